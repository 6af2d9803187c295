import pytest
from django.core.cache import cache, caches


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Report details are cached for a few minutes: start every test without them."""
    cache.clear()
    caches["reports"].clear()
    yield
    cache.clear()
    caches["reports"].clear()
