"""The files a commit holds: where they live in the tree, what they are, how big, whether they parse.

- Every file a commit writes is a regular file (git mode 100644 or 100755): no symbolic link, no
  submodule.
- Pages live at ``pages/<x>/<y>/<id>.md``, where ``x`` and ``y`` are the first two hex digits of SHA-1
  of the id (the store's shards; the work tree shows ``pages/<id>.md``). Actors live at
  ``actors/<id>.yaml``, proposals at ``proposals/<n>.yaml``. Ids follow the id rule.
- No file is larger than ``limits.file_bytes`` of story.yaml (1 MiB by default).
- story.yaml, pages and actor records parse, as plain YAML: no anchors, aliases or tags.
"""

from __future__ import annotations

import re

from ..errors import BadInput
from ..gate import CommitCheck, Rule
from ..objects import ID_PATTERN, Actor, Story, page_parses
from ..snapshot import TreeDiff, check_path, shard_of, store_path
from ..types import ObjectId
from .settings import parse_settings, settings_at

__all__ = ["REGULAR_MODES", "StoryFiles"]

REGULAR_MODES = frozenset({"100644", "100755"})
_PROPOSAL = re.compile(r"proposals/(0|[1-9][0-9]{0,17})\.yaml")


class StoryFiles(Rule):
    name = "files"

    def check_commit(self, check: CommitCheck) -> None:
        if not check.changes:
            return
        limit = settings_at(check.gate, check.repo.snapshots, check.parent_tree or check.info.tree).file_bytes
        for change in check.changes:
            if change.new is None:
                continue
            self._check_place(check, change)
            data = check.repo.read_blob(change.new)  # often just read by the merge that made the commit
            if len(data) > limit:
                check.fail(
                    self.name,
                    f"{change.path} is {len(data):,} bytes, more than the story's limit of {limit:,} "
                    "(story.yaml limits.file_bytes)",
                )
            self._check_parses(check, change.path, data, change.new)

    def _check_place(self, check: CommitCheck, change: TreeDiff) -> None:
        stored = change.stored or change.path
        if change.mode is not None and change.mode not in REGULAR_MODES:
            what = {"120000": "a symbolic link", "160000": "a submodule"}.get(
                change.mode, f"mode {change.mode}"
            )
            check.fail(self.name, f"{stored} is {what}: a story holds regular files only")
        try:
            check_path(stored)
        except BadInput as exc:
            check.fail(self.name, str(exc))
        top, _, rest = stored.partition("/")
        if top == "pages":
            name = stored.rsplit("/", 1)[-1]
            page_id = name[:-3] if name.endswith(".md") else ""
            if not page_id or not ID_PATTERN.fullmatch(page_id) or ".." in page_id:
                check.fail(self.name, f"{stored}: pages/ holds <page-id>.md files (ids: a-z 0-9 . _ -)")
            where = store_path(f"pages/{name}")
            if stored != where:
                x, y = shard_of(name)
                check.fail(
                    self.name,
                    f"{stored}: page {page_id} is stored at {where} (pages are sharded by the first two hex "
                    f"digits {x}{y} of the SHA-1 of the id)",
                )
        elif top == "actors":
            actor_id = rest[:-5] if rest.endswith(".yaml") else ""
            if "/" in rest or not actor_id or not ID_PATTERN.fullmatch(actor_id) or ".." in actor_id:
                check.fail(self.name, f"{stored}: actors/ holds <actor-id>.yaml files (ids: a-z 0-9 . _ -)")
        elif top == "proposals" and not _PROPOSAL.fullmatch(stored):
            check.fail(self.name, f"{stored}: proposals/ holds <number>.yaml files")

    def _check_parses(self, check: CommitCheck, path: str, data: bytes, blob: ObjectId) -> None:
        try:
            if path.startswith("pages/"):
                # A page as gvcs writes it is known to parse without being built; any other is parsed.
                if not page_parses(path[6:-3], data):
                    check.repo.page_record(path[6:-3], blob, data)
            elif path.startswith("actors/"):
                Actor.parse(path[7:-5], data, path)
            elif path == Story.PATH:
                parse_settings(Story.parse(data, path))
        except BadInput as exc:
            check.fail(self.name, str(exc))
