"""Capabilities: what each supported Stalwart version can do, learnt at sign-in."""

from __future__ import annotations

import pytest

from portal.capabilities import TESTED_VERSIONS, for_server, parse_version
from portal.permissions import PortalUser


def test_versions_parse():
    assert parse_version("0.15.5") == (0, 15, 5)
    assert parse_version("v0.12") == (0, 12, 0)
    assert parse_version("nonsense") is None


@pytest.mark.parametrize("version", TESTED_VERSIONS)
def test_every_tested_version_has_capabilities(version):
    caps = for_server("rest", version, True)
    assert caps.generation == "rest"
    assert caps.queue_status
    assert caps.permission_table == parse_version(version)[:2]


def test_what_differs():
    v11, v13, v14, v15 = (for_server("rest", v, True) for v in ("0.11.8", "0.13.4", "0.14.1", "0.15.5"))
    assert not v11.queue_recipients and v13.queue_recipients
    assert not v13.single_password_secrets and v14.single_password_secrets
    assert v11.classify_permission == "spam-filter-train" and v15.classify_permission == "spam-filter-test"
    assert v11.spam_training_route == "train" and v15.spam_training_route == "upload"
    assert v15.reindex_indexes == ("email", "calendar", "contacts", "file", "tracing") and v11.reindex_indexes == ()
    assert "bayes-global" in v11.in_memory_prefixes and "bayes-global" not in v15.in_memory_prefixes
    assert v15.allow_spam_training and not v14.allow_spam_training
    assert v15.trace_default_window_hours == 24 and v14.trace_default_window_hours == 0
    assert v15.undelete_item_shape == "item" and v14.undelete_item_shape == "collection"
    assert v15.why("bayes_purge").startswith("Stalwart 0.15")
    assert v11.why("bayes_purge") == ""
    assert v11.why("principal_locale") and not v13.why("principal_locale")


def test_unknown_generation_is_refused():
    with pytest.raises(ValueError):
        for_server("carrier-pigeon", "1.0", False)


def test_portal_user_derives_capabilities_from_the_stored_version():
    user = PortalUser(name="a", permissions=frozenset(), version="0.15.5", enterprise=False)
    assert user.capabilities is for_server("rest", "0.15.5", False)
    assert user.capabilities.spam_trainer


def test_sign_in_stores_the_version_and_generation(client, sandbox):
    from tests.conftest import sign_in

    sign_in(client, "admin")
    identity = client.session["portal.identity"]
    assert identity["version"] == sandbox.version
    assert identity["generation"] == "rest"


def test_the_readme_claims_exactly_the_versions_the_suite_runs():
    import re
    from pathlib import Path

    from tests.conftest import STALWART_VERSIONS

    readme = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text()
    claimed = re.search(r"tested against Stalwart \*\*([^*]+)\*\*", readme).group(1)
    assert re.findall(r"\d+\.\d+\.\d+", claimed) == list(STALWART_VERSIONS) == list(TESTED_VERSIONS)
