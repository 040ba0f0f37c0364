"""narrative_vcs/rules/refs.py: branches, tags and remote-tracking refs; tags never move."""

from __future__ import annotations

import pytest

from narrative_vcs.gate import RuleBroken
from narrative_vcs.refs import tag_ref
from narrative_vcs.repository import Repository
from narrative_vcs.types import RefName
from tests.conftest import Writer

from .conftest import head


def test_a_tag_is_made_once_and_deleted_but_never_moved(story: Repository, writer: Writer) -> None:
    first = head(story)
    story.create_tag("v1", first)
    second = writer.page("hall", "A hall.")
    with pytest.raises(
        RuleBroken, match=r"^tag v1 does not move: delete it and make it again \(rule: refs\)$"
    ):
        story.refs.set_if_equals(tag_ref("v1"), first, second)
    story.delete_tag("v1")
    story.create_tag("v1", second)
    assert story.tags() == {"v1": second}


def test_refs_other_than_branches_tags_and_remotes_are_refused(story: Repository) -> None:
    with pytest.raises(RuleBroken, match="a story has branches, tags, remote-tracking refs and stashes only"):
        story.refs.add_if_new(RefName("refs/notes/commits"), head(story))
    story.refs.add_if_new(RefName("refs/remotes/origin/main"), head(story))  # fetched history waits here
    assert story.refs.get(RefName("refs/notes/commits")) is None


@pytest.mark.parametrize(
    "name", ["refs/remotes/origin/../../heads/main", "refs/remotes/origin/a..b", "refs/remotes/o/x.lock"]
)
def test_a_remote_tracking_ref_has_a_valid_name(story: Repository, name: str) -> None:
    from narrative_vcs.errors import BadInput

    with pytest.raises(BadInput, match="invalid remote-tracking ref name"):
        story.refs.add_if_new(RefName(name), head(story))
    assert story.refs.get(RefName(name)) is None


def test_remote_tracking_refs_hold_fetched_history_unverified(story: Repository) -> None:
    from narrative_vcs.gate import RuleBroken as Broken

    from .forge import forge

    forged = forge(story, head(story), {"ledger.yaml": b"balances: {ada: 999}\n"})  # an edit of the ledger
    story.refs.add_if_new(RefName("refs/remotes/origin/loot"), forged)  # fetched: held as it is
    with pytest.raises(Broken, match=r"ledger\.yaml is written only by gift\.txn\.v1 events"):
        story.refs.set_if_equals(RefName("refs/heads/main"), head(story), forged)  # merged: checked


def test_a_store_path_never_names_the_store_in_any_case(story: Repository) -> None:
    from narrative_vcs.gate import RuleBroken as Broken

    from .forge import forge, move, raw_tree

    tree = raw_tree(story, story.commits.get(head(story)).tree, {".GVCS/gvcs.json": ("100644", b"{}")})
    with pytest.raises(Broken, match=r"invalid path '\.GVCS/gvcs\.json'"):
        move(story, "main", forge(story, head(story), tree=tree))


def test_a_stash_is_held_unverified_and_checked_once_committed(story: Repository) -> None:
    """Stashes (refs/stash/<n>) hold work put aside as it is, like fetched history; what is in one is
    checked when it reaches a branch. A stash ref of another shape is refused."""
    from .forge import forge

    forged = forge(story, head(story), {"ledger.yaml": b"balances: {ada: 999}\n"})
    story.refs.add_if_new(RefName("refs/stash/0"), forged)
    assert story.stashes() == [(RefName("refs/stash/0"), forged)]
    with pytest.raises(RuleBroken, match=r"ledger\.yaml is written only by gift\.txn\.v1 events"):
        story.refs.set_if_equals(RefName("refs/heads/main"), head(story), forged)
    for bad in ("refs/stash/x", "refs/stash/0/1", "refs/stash/" + "9" * 10):
        with pytest.raises(RuleBroken, match="a stash is refs/stash/<number>"):
            story.refs.add_if_new(RefName(bad), head(story))
