"""``safe_next``: a sign-in's ``next`` never leads off the site, however a browser reads it."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urljoin, urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from security.signin import safe_next

ORIGIN = "http://localhost/"
# What a browser's URL parser drops (WHATWG URL: leading and trailing C0 controls and spaces,
# then every TAB, LF and CR) and reads differently (a backslash is a slash in http(s) URLs).
_EDGES = "".join(chr(c) for c in range(0x21))


def browser_resolves(location: str) -> SplitResult:
    """Return where a browser goes for ``Location: location`` answered by :data:`ORIGIN`."""
    cleaned = re.sub(r"[\t\n\r]", "", location.strip(_EDGES)).replace("\\", "/")
    return urlsplit(urljoin(ORIGIN, cleaned))


# Characters that make or break a URL's scheme and authority, and a little text.
TRICKY = st.lists(
    st.sampled_from([*"/\\\t\n\r\x00\x0b\x0c :@.%?#;ehtpsx", "09", "5C", "é"]),
    max_size=14,
).map("".join)


@given(TRICKY)
@example("/\t/evil.example")
@example("/\\evil.example")
@example(" //evil.example")
@example("\\\\evil.example")
@example("https:evil.example")
@example("/\r\n/evil.example")
def test_no_accepted_next_leaves_the_origin(value: str) -> None:
    target = safe_next(value)
    lands = browser_resolves(target)
    assert (lands.scheme, lands.netloc) == ("http", "localhost"), (value, target)
    assert target.startswith("/") and target.isascii() and target.isprintable()


@given(st.from_regex(r"/[a-z0-9_\-]{0,12}(\?[a-z]=[0-9]{1,3})?", fullmatch=True))
def test_a_path_on_this_site_is_kept(value: str) -> None:
    assert safe_next(value) == value


def test_the_attacks_fall_back_to_the_start_page() -> None:
    for attack in ("/\t/evil.example", "/\\evil.example", "//evil.example", "https://e.x/"):
        assert safe_next(attack) == "/"
    assert safe_next(None) == "/" and safe_next("") == "/"
