"""cli/completion.py: what the shell gets when it asks gvcs to complete a command line (argcomplete)."""

from __future__ import annotations

from pathlib import Path

from .conftest import Gvcs, ok


def completions(gvcs: Gvcs, cwd: Path, line: str) -> list[str]:
    """The completions of ``line`` (the cursor at its end), as the shell code asks for them."""
    answer = cwd.parent / "completions.txt"
    env = {
        "_ARGCOMPLETE": "1",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }
    result = gvcs(cwd=cwd, env=env)
    assert result.code == 0, result.err
    words = answer.read_text().split("\x0b")
    answer.unlink()
    return sorted(w.strip() for w in words if w.strip())


def test_commands_options_and_the_storys_names_complete(gvcs: Gvcs, story: Path) -> None:
    assert completions(gvcs, story, "gvcs sw") == ["switch"]
    assert "--oneline" in completions(gvcs, story, "gvcs log --one")
    ok(gvcs("branch", "drafts", cwd=story))
    assert completions(gvcs, story, "gvcs switch dr") == ["drafts"]
    assert completions(gvcs, story, "gvcs log ma") == ["main"]
    assert completions(gvcs, story, "gvcs blame op") == ["opening"]  # a page id
    ok(gvcs("remote", "add", "mirror", str(story), cwd=story))
    assert completions(gvcs, story, "gvcs push mi") == ["mirror"]
    outside = story.parent / "elsewhere"
    outside.mkdir()
    assert completions(gvcs, outside, "gvcs switch dr") == []  # no repository: no names, no error


def test_completion_prints_each_shells_code(gvcs: Gvcs, tmp_path: Path) -> None:
    for shell in ("bash", "zsh", "fish"):
        assert "gvcs" in ok(gvcs("completion", shell, cwd=tmp_path)).out
    assert "complete" in ok(gvcs("completion", "fish", cwd=tmp_path)).out
    bad = gvcs("completion", "tcsh", cwd=tmp_path)
    assert bad.code == 2 and "invalid choice: 'tcsh'" in bad.err
