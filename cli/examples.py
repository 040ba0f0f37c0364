"""Examples shown at the end of each command's ``--help`` (and ``gvcs help COMMAND``)."""

from __future__ import annotations

__all__ = ["EXAMPLES", "epilog"]

EXAMPLES: dict[str, list[str]] = {
    "completion": ['eval "$(gvcs completion bash)"     # in ~/.bashrc', "gvcs completion fish | source"],
    "help": ["gvcs help log", "gvcs help remote add"],
    "init": ["gvcs init night-shift --title 'Night Shift'", "gvcs init story --store neo4j://127.0.0.1:7687"],
    "actor": ["gvcs actor add ada --name 'Ada Lovelace'", "gvcs actor add loom --name Loom --kind agent"],
    "whoami": ["gvcs whoami", "gvcs --actor ada whoami"],
    "page": ["gvcs page new intro --title Intro --follows prologue", "gvcs page list --rev main"],
    "status": ["gvcs status", "gvcs status --json"],
    "commit": ["gvcs commit -m 'Sharpen the epilogue'", "gvcs commit --amend -m 'A better subject'"],
    "branch": ["gvcs branch", "gvcs branch draft main~2", "gvcs branch -m draft act-two"],
    "restore": ["gvcs restore pages/intro.md", "gvcs restore --source main~1 pages/intro.md"],
    "reset": ["gvcs reset --hard", "gvcs reset main@{1}"],
    "reflog": ["gvcs reflog", "gvcs reflog draft"],
    "stash": ["gvcs stash -m 'half an idea'", "gvcs stash list", "gvcs stash pop"],
    "switch": ["gvcs switch alt-ending", "gvcs switch -c draft", "gvcs switch --detach v1"],
    "recover": ["gvcs recover"],
    "tag": ["gvcs tag", "gvcs tag first-act main~3"],
    "log": ["gvcs log --oneline -n 20", "gvcs log --graph --all", "gvcs log --actor ada --page intro -p"],
    "show": ["gvcs show", "gvcs show main~2 --lines"],
    "diff": ["gvcs diff", "gvcs diff main alt-ending", "gvcs diff main...alt-ending --word-diff"],
    "blame": ["gvcs blame prologue", "gvcs blame prologue --rev alt-ending"],
    "graph": ["gvcs graph -o pages.graphml", "gvcs graph --format dot | dot -Tsvg > pages.svg"],
    "fsck": ["gvcs fsck", "gvcs fsck --rules"],
    "gc": ["gvcs gc"],
    "migrate": ["gvcs migrate", "gvcs migrate --store neo4j://127.0.0.1:7687"],
    "demo": ["gvcs demo", "gvcs demo /tmp/library --force"],
    "remote": ["gvcs remote add origin https://git.example.org/team/story.git", "gvcs remote -v"],
    "push": ["gvcs push origin", "gvcs push origin main alt-ending"],
    "fetch": ["gvcs fetch", "gvcs fetch origin main"],
    "pull": ["gvcs pull origin", "gvcs pull origin main"],
    "clone": ["gvcs clone http://127.0.0.1:8000/git story", "gvcs clone neo4j://127.0.0.1:7687 copy"],
    "serve": ["gvcs serve --port 8000", "gvcs serve --redis redis://127.0.0.1:6379/0 --max-push 512"],
    "worker": ["gvcs worker --redis redis://127.0.0.1:6379/0"],
    "token": ["gvcs token create ada", "gvcs token list", "gvcs token revoke 06d6bfe2"],
    "access": ["gvcs access", "gvcs access token"],
    "merge": ["gvcs merge alt-ending", "gvcs merge --continue", "gvcs merge --abort"],
    "conflicts": ["gvcs conflicts", "gvcs conflicts --json"],
    "resolve": ["gvcs resolve epilogue --theirs", "gvcs resolve epilogue --file resolved.md"],
    "rebase": ["gvcs rebase main"],
    "cherry-pick": ["gvcs cherry-pick alt-ending~1"],
    "revert": ["gvcs revert HEAD"],
    "propose": ["gvcs propose alt-ending --into main -m 'Take the fox ending'"],
    "vote": ["gvcs vote 1 yes"],
    "proposals": ["gvcs proposals", "gvcs proposals --status open --json"],
    "proposal": ["gvcs proposal show 1", "gvcs proposal show 1 --json"],
    "event": [
        "gvcs event emit agent.emit.v1 --payload @event.json",
        "gvcs event list --topic gift.txn.v1 -n 5",
    ],
    "gift": ["gvcs gift mint ada 10", "gvcs gift send bob 3", "gvcs gift balance"],
    "ritual": ["gvcs ritual key-of-margins --rotation 90"],
    "spore": ["gvcs spore list", "gvcs spore decay catalogue-db --state died --reason 'oom'"],
    "read": [
        "gvcs read | less",
        "gvcs read alt-ending --format html -o alt.html",
        "gvcs read --format epub -o book.epub",
    ],
    "stats": ["gvcs stats", "gvcs stats main --json"],
    "import": [
        "gvcs import twee story.twee",
        "gvcs import twine story.html --prune --commit",
        "gvcs import vault ~/notes",
    ],
    "export": ["gvcs export twee -o story.twee", "gvcs export twee alt-ending"],
}


def epilog(command: str) -> str | None:
    """The examples of ``command`` as the end of its help, or None."""
    lines = EXAMPLES.get(command)
    if not lines:
        return None
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)
