"""narrative_vcs/remotes.py apart from a network: what a git remote's listing may bring in."""

from __future__ import annotations

from narrative_vcs.remotes import _listing


def test_a_listing_keeps_only_refs_a_story_can_hold() -> None:
    good, other = b"a" * 40, b"b" * 40
    listing = _listing(
        {
            b"refs/heads/main": good,
            b"refs/heads/../../config": other,  # a name git refuses: never becomes a local ref
            b"refs/heads/a..b": other,
            b"refs/tags/v1": good,
            b"refs/tags/v1^{}": other,
            b"refs/tags/bad": b"not an id",
            b"refs/notes/x": good,
            b"refs/heads/gone": None,
        },
        {b"HEAD": b"refs/heads/main"},
    )
    assert listing.refs == {"refs/heads/main": "a" * 40, "refs/tags/v1": "a" * 40}
    assert listing.head == "main"
    assert listing.peeled == {"refs/tags/v1": "b" * 40}
