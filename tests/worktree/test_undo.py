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


def test_write_files_reports_progress_and_removes_files_given_none(tree: WorkTree) -> None:
    pages = {f"pages/p{n:03d}.md": Page(f"p{n:03d}", f"P{n}").serialise() for n in range(250)}
    seen: list[tuple[int, int]] = []
    assert len(tree.write_files(pages, progress=lambda done, total: seen.append((done, total)))) == 250
    assert seen[0] == (0, 250) and seen[-1] == (250, 250) and len(seen) > 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert tree.write_files({"pages/p000.md": None, "pages/none.md": None}) == ["pages/p000.md"]
    assert not (tree.root / "pages" / "p000.md").exists() and tree.journal.read() is None
    assert (tree.root / "pages" / "p249.md").read_bytes() == pages["pages/p249.md"]


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
