"""Branches, tags and HEAD, and revisions (``main~2``, a tag, an id prefix) resolved to commits."""

from __future__ import annotations

import re

from ..errors import BadInput, GvcsError, NotFound
from ..history import CommitInfo
from ..refs import HEADS, STASHES, TAGS, branch_ref, tag_ref
from ..types import ObjectId, RefName
from .base import RepositoryBase
from .values import HEAD

__all__ = ["Branches"]


class Branches(RepositoryBase):
    # --- refs -------------------------------------------------------------------------------------

    def head_branch(self) -> str | None:
        target = self.refs.get_symbolic(HEAD)
        return target[len(HEADS) :] if target and target.startswith(HEADS) else None

    def set_head_branch(self, name: str) -> None:
        self.refs.set_symbolic(HEAD, branch_ref(name))

    def set_head_detached(self, oid: ObjectId) -> None:
        """Point HEAD at a commit rather than a branch (git's detached HEAD)."""
        self.refs.set_detached(HEAD, oid)

    def refs_state(self) -> tuple[str | None, tuple[tuple[str, ObjectId], ...]]:
        """Every ref and where HEAD points: what a read depends on besides objects, which never change.
        Equal states mean equal answers to the same read."""
        return self.refs.get_symbolic(HEAD), tuple(sorted(self.refs.list("refs/").items()))

    def branches(self) -> dict[str, ObjectId]:
        return {k[len(HEADS) :]: v for k, v in self.refs.list(HEADS).items()}

    def tags(self) -> dict[str, ObjectId]:
        return {k[len(TAGS) :]: v for k, v in self.refs.list(TAGS).items()}

    def stashes(self) -> list[tuple[RefName, ObjectId]]:
        """The stash refs (``refs/stash/<n>``) and their commits, newest (highest ``n``) first: the
        N-th is ``stash@{N}``."""
        found = [
            (int(ref[len(STASHES) :]), ref, oid)
            for ref, oid in self.refs.list(STASHES).items()
            if ref[len(STASHES) :].isdigit()
        ]
        return [(ref, oid) for _, ref, oid in sorted(found, reverse=True)]

    def branch_head(self, name: str) -> ObjectId | None:
        return self.refs.get(branch_ref(name))

    def create_branch(self, name: str, start: str | None = None, *, who: str = "") -> ObjectId:
        oid = self.resolve(start or "HEAD")
        self._require_new(branch_ref(name), f"branch {name}")
        self.refs.add_if_new(
            branch_ref(name), oid, who=who, message=f"branch: created from {start or 'HEAD'}"
        )
        return oid

    def delete_branch(self, name: str, expected: ObjectId | None = None, *, who: str = "") -> ObjectId:
        ref = branch_ref(name)
        current = self.refs.get(ref)
        if current is None:
            raise NotFound(f"branch {name!r} not found")
        if self.head_branch() == name:
            raise BadInput(f"cannot delete branch {name!r}: it is the current branch")
        self.refs.remove_if_equals(ref, expected or current, who=who, message="branch: deleted")
        return current

    def create_tag(self, name: str, rev: str = "HEAD", *, who: str = "") -> ObjectId:
        oid = self.resolve(rev)
        self._require_new(tag_ref(name), f"tag {name}")
        self.refs.add_if_new(tag_ref(name), oid, who=who, message=f"tag: {rev}")
        return oid

    def delete_tag(self, name: str) -> None:
        ref = tag_ref(name)
        if self.refs.get(ref) is None:
            raise NotFound(f"tag {name!r} not found")
        self.refs.remove_if_equals(ref, None, message="tag: deleted")

    def _require_new(self, ref: RefName, what: str) -> None:
        if self.refs.get(ref) is not None:
            raise BadInput(f"{what} already exists")

    # --- revisions --------------------------------------------------------------------------------

    _REV = re.compile(r"^(?P<base>.*?)(?P<suffix>(?:~\d*|\^\d*)*)$")

    def resolve(self, rev: str) -> ObjectId:
        """A commit id from a revision: id, unique prefix, branch, tag or HEAD, with ``~N``/``^N``."""
        if not isinstance(rev, str) or not rev or len(rev) > 300 or any(ord(c) < 32 for c in rev):
            raise BadInput(f"invalid revision {rev!r}")
        match = self._REV.match(rev)
        assert match is not None
        oid = self._resolve_base(match.group("base") or "HEAD", rev)
        for step in re.findall(r"[~^]\d*", match.group("suffix")):
            oid = self._step(oid, step, rev)
        return oid

    def _resolve_base(self, base: str, rev: str) -> ObjectId:
        at = _AT.fullmatch(base)
        if at is not None:
            return self._reflog_entry(at.group("name"), int(at.group("n")), rev)
        if base in ("HEAD", "@"):
            oid = self.refs.get(HEAD)
            if oid is None:
                raise NotFound(f"{rev}: the current branch {self.head_branch()!r} has no commits yet")
            return oid
        if len(base) == 40 and _FULL_ID.fullmatch(base):  # a full id wins over refs, as in git
            try:
                return self.commits.get(ObjectId(base.lower())).id
            except GvcsError:
                pass  # not a commit here: maybe a ref of that name
        for ref in (base, HEADS + base, TAGS + base, "refs/remotes/" + base):
            if ref.startswith("refs/") and not any(c in ref for c in " ~^:?*[\\") and ".." not in ref:
                oid = self.refs.get(RefName(ref))
                if oid is not None:
                    return oid
        if re.fullmatch(r"[0-9a-fA-F]{4,40}", base):
            found = self.objects.resolve_prefix(base.lower())
            commits = [oid for oid in found if self.objects.get(oid)[0] == "commit"]
            if len(commits) == 1:
                return commits[0]
            if len(commits) > 1:
                raise BadInput(f"{rev}: ambiguous commit prefix {base!r} (matches {len(commits)} commits)")
        raise NotFound(f"unknown revision {rev!r}: no branch, tag or commit of that name")

    def _reflog_entry(self, name: str, n: int, rev: str) -> ObjectId:
        """``main@{2}``: where a branch pointed two moves ago (``@{N}``: the current branch);
        ``stash@{N}``: the N-th newest stash."""
        if name == "stash":
            stashes = self.stashes()
            if n >= len(stashes):
                raise NotFound(f"{rev}: there are {len(stashes)} stash entries (gvcs stash list)")
            return stashes[n][1]
        branch = name or self.head_branch()
        if not branch or branch == "HEAD":
            raise BadInput(f"{rev}: HEAD is detached; name a branch (main@{{{n}}})")
        ref = RefName(branch) if branch.startswith("refs/") else branch_ref(branch)
        if self.refs.get(ref) is None:
            raise NotFound(f"unknown revision {rev!r}: no branch {branch!r}")
        entries = self.refs.reflog(ref)
        if n >= len(entries):
            count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
            raise NotFound(f"{rev}: the reflog of {branch} has only {count}")
        oid = entries[-1 - n].new
        if oid == "0" * 40:
            raise NotFound(f"{rev}: {branch} did not exist then")
        return oid

    def _step(self, oid: ObjectId, step: str, rev: str) -> ObjectId:
        count = int(step[1:]) if len(step) > 1 else 1
        if step[0] == "~":
            for _ in range(count):
                parents = self.commits.get(oid).parents
                if not parents:
                    raise NotFound(f"{rev}: history is not that long")
                oid = parents[0]
            return oid
        if count == 0:
            return oid
        parents = self.commits.get(oid).parents
        if len(parents) < count:
            raise NotFound(f"{rev}: commit {oid[:10]} has no parent {count}")
        return parents[count - 1]

    def commit_info(self, rev: str) -> CommitInfo:
        return self.commits.get(self.resolve(rev))


_FULL_ID = re.compile(r"[0-9a-fA-F]{40}")
_AT = re.compile(r"(?P<name>[^@{}]*)@\{(?P<n>\d{1,6})\}")
