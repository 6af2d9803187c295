import pytest

from portal.stalwart.paths import api_path, segment

HOSTILE = [
    "a/../../store/purge/data",
    "x+y&z=1",
    "what?is#this",
    "..",
    ".",
    "100%",
    "jöhn@exämple.org",
    "space name",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_it_keeps_every_name_in_one_path_element(name):
    encoded = segment(name)
    for character in "/+&=?#. ":
        assert character not in encoded
    assert api_path("principal", name) == "/api/principal/" + encoded


def test_it_encodes_what_stalwart_would_form_decode():
    assert segment("x+y&z=1") == "x%2By%26z%3D1"
    assert segment("a/b") == "a%2Fb"
    assert segment("..") == "%2E%2E"


def test_it_refuses_an_empty_element():
    with pytest.raises(ValueError):
        segment("")
