"""Writing several work-tree files as one operation (``WorkTree.write_files``)."""

from __future__ import annotations

from narrative_vcs.graph.factory import open_repository
from narrative_vcs.objects import Page
from narrative_vcs.worktree import WorkTree


def test_write_files_writes_every_file_and_reports_the_changed(tree: WorkTree) -> None:
    two = Page("two", "Two", "Second.").serialise()
    one = (tree.root / "pages" / "one.md").read_bytes()
    written = tree.write_files({"pages/two.md": two, "pages/one.md": one}, op="import twee")
    assert written == ["pages/two.md"]  # one.md already holds those bytes
    assert (tree.root / "pages" / "two.md").read_bytes() == two
    assert {c.path: c.status for c in tree.status()}["pages/two.md"] == "added"
    assert tree.write_files({"pages/two.md": two}) == []
    assert tree.journal.read() is None


def test_files_of_an_operation_cut_short_are_written_by_the_next_command(tree: WorkTree) -> None:
    # What a kill after the journal but before the files leaves behind.
    data = {"pages/a.md": Page("a", "A").serialise(), "pages/b.md": Page("b", "B").serialise()}
    blobs = {path: tree.repo.objects.put("blob", body) for path, body in data.items()}
    tree.journal.start("import twee", **{"from": {"branch": tree.branch, "commit": tree.commit_id}})
    tree.journal.update(write=blobs)
    later = WorkTree(tree.root, open_repository(tree.root))
    recovered = later.recover()
    assert recovered is not None and recovered.op == "import twee" and recovered.finished
    assert {p: (tree.root / p).read_bytes() for p in data} == data
