"""The history, page and proposal views (api/views/): the history's data, and each view in a real headless
Chromium on a real ``gvcs serve`` of the demo story, with screenshots in ``build/artifacts/``.

The browser tests are skipped without Chromium, playwright or the views' npm files (failed under
``CI=true``); see tests/api/browsing.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.testclient import TestClient

from api.graphql.app import create_app
from narrative_vcs.access import create_token
from narrative_vcs.demo import build_demo
from narrative_vcs.graph.factory import open_repository
from narrative_vcs.objects import Page
from narrative_vcs.repo.building import ChangeSet
from narrative_vcs.repository import Repository

from .browsing import ViewTab, browser, demo_dir, need_assets, open_view
from .serving import serve, wait_for_subscribers
from .test_explorer import TIMEOUT_MS

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["browser", "demo_dir"]  # the fixtures, from tests/api/browsing.py

PROPOSE = "mutation($input: ProposeInput!) { propose(input: $input) { number } }"
VOTE = "mutation($n: Int!) { vote(number: $n, choice: YES) { status tally { voters } } }"


@pytest.fixture
def demo() -> Iterator[Repository]:
    repo = Repository.memory()
    build_demo(repo)
    yield repo


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _merge_by_proposal(client: TestClient, repo: Repository) -> int:
    """alt-ending into main, voted through by two actors (the demo's quorum)."""
    tokens = {actor: create_token(repo.access, actor, label="views")[1] for actor in ("imogen", "london-fox")}
    body = {
        "query": PROPOSE,
        "variables": {"input": {"source": "alt-ending", "target": "main", "message": "Fox"}},
    }
    number: int = client.post("/graphql", json=body, headers=_auth(tokens["imogen"])).json()["data"][
        "propose"
    ]["number"]
    for token in tokens.values():
        answer = client.post(
            "/graphql", json={"query": VOTE, "variables": {"n": number}}, headers=_auth(token)
        )
        assert "errors" not in answer.json(), answer.json()
    return number


# --- the history's data -----------------------------------------------------------------------------


def test_the_history_data_has_every_branch_paged_with_heads_tags_and_proposals(demo: Repository) -> None:
    with TestClient(create_app(demo)) as client:
        number = _merge_by_proposal(client, demo)
        heads = sorted(set(demo.branches().values()) | set(demo.tags().values()))
        every = [info.id for info in demo.walk(heads)]
        seen: list[dict[str, Any]] = []
        after = ""
        while True:
            page = client.get(f"/view/data/history?first=7&after={after}").json()
            assert len(page["commits"]) <= 7
            seen += page["commits"]
            if page["next"] is None:
                break
            after = page["next"]
        assert [commit["id"] for commit in seen] == every
        by_id = {commit["id"]: commit for commit in seen}
        main = by_id[demo.branch_head("main")]
        assert "main" in main["branches"] and main["proposal"] == number and len(main["parents"]) == 2
        assert "alt-ending" in by_id[demo.branch_head("alt-ending")]["branches"]
        for name, oid in demo.tags().items():
            assert name in by_id[oid]["tags"]
        assert sum(commit["proposal"] is not None for commit in seen) == 1
        for query in ("first=0", "first=x", "first=501"):
            answer = client.get(f"/view/data/history?{query}")
            assert answer.status_code == 400
            assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_INPUT"
        assert client.get("/view/data/history?after=nonsense").status_code == 400


def test_the_new_views_are_served_and_linked_from_the_index() -> None:
    need_assets()
    with TestClient(create_app(Repository.memory())) as client:
        for name in ("history", "page", "proposal"):
            page = client.get(f"/view/{name}", headers={"accept": "text/html"})
            assert page.status_code == 200 and f'src="/view/static/{name}.js"' in page.text
            assert client.get(f"/view/static/{name}.js").headers["cache-control"] == "no-cache"
        index = client.get("/view/").text
        assert 'href="history"' in index and "page?id=" in index and "proposal?n=" in index


# --- in Chromium ------------------------------------------------------------------------------------


class HistoryTab(ViewTab):
    def row_ids(self) -> list[str]:
        ids: list[str] = self.tab.evaluate("() => window.gvcsHistory.commits.map((c) => c.id)")
        return ids


def test_the_history_draws_every_commit_and_a_click_shows_its_diff(demo_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    repo = open_repository(demo_dir)
    try:
        every = [info.id for info in repo.walk(sorted(set(repo.branches().values())))]
        main, alt = repo.branch_head("main"), repo.branch_head("alt-ending")
        epilogue = next(info for info in repo.walk([alt]) if info.subject == "Alternate epilogue: unshelved")
    finally:
        repo.close()
    with serve(demo_dir) as server, open_view(browser, server, "/view/history", HistoryTab) as view:
        assert view.row_ids() == every  # fewer than a page: all of them, newest first
        expect(view.tab.locator("#rows .row")).to_have_count(len(every))
        expect(view.tab.locator("#lanes circle")).to_have_count(len(every))
        # Two branches apart: their commits are drawn in two lanes.
        lanes = view.tab.evaluate("() => new Set(window.gvcsHistory.layout.rows.map((r) => r.lane)).size")
        assert lanes >= 2
        expect(view.tab.locator(f'#rows .row[data-id="{main}"] .badge.branch')).to_have_text("main")
        expect(view.tab.locator(f'#rows .row[data-id="{alt}"] .badge.branch')).to_have_text("alt-ending")
        view.screenshot("history.png")
        view.tab.locator(f'#rows .row[data-id="{epilogue.id}"] .subject').click()
        expect(view.tab.locator("#commit")).to_have_attribute("data-commit", epilogue.id)
        expect(view.tab.locator("#commit-subject")).to_have_text("Alternate epilogue: unshelved")
        added = view.tab.locator('#diff .change[data-path="pages/epilogue-alt.md"]')
        expect(added.locator(".badge")).to_have_text("added")
        expect(added.locator(".para.inserted").first).to_be_visible()
        view.screenshot("history-diff.png")
    # Paged: five rows, then five more below them, the lanes going on.
    with serve(demo_dir) as server, open_view(browser, server, "/view/history?first=5", HistoryTab) as view:
        assert view.row_ids() == every[:5]
        expect(view.tab.locator("#status")).to_contain_text("5 commits of 3 branches (more below)")
        view.tab.locator("#more").click()
        expect(view.tab.locator("#rows .row")).to_have_count(10)
        assert view.row_ids() == every[:10]
        expect(view.tab.locator("#lanes circle")).to_have_count(10)


def test_a_new_commit_appears_in_the_history(demo_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    with serve(demo_dir) as server, open_view(browser, server, "/view/history", HistoryTab) as view:
        before = len(view.row_ids())
        wait_for_subscribers(server, 1)  # the view's event stream
        repo = open_repository(demo_dir)
        try:
            page = Page("coda", "Coda", "The last shelf closes.\n", follows=("epilogue",))
            head = repo.commit(
                "main",
                ChangeSet().upsert_page(page),
                actor="imogen",
                message="Add a coda",
                expected_head=repo.branch_head("main"),
            )
        finally:
            repo.close()
        row = view.tab.locator(f'#rows .row[data-id="{head}"]')
        expect(row.locator(".subject")).to_have_text("Add a coda", timeout=TIMEOUT_MS)
        expect(view.tab.locator("#rows .row").first).to_have_attribute("data-id", str(head))
        expect(view.tab.locator("#status")).to_contain_text("Add a coda")
        assert len(view.row_ids()) == before + 1


def _paragraphs(view: ViewTab) -> list[str]:
    texts: list[str] = view.tab.locator("#paragraphs .paragraph:not(.removed) .text").all_inner_texts()
    return [" ".join(text.split()) for text in texts]


def _plain(body: str) -> list[str]:
    """A body's paragraphs as the browser shows their text (markup gone, spaces collapsed)."""
    out = []
    for text in body.split("\n\n"):
        if text.strip():
            out.append(" ".join(text.replace("[[", "").replace("]]", "").replace("*", "").split()))
    return out


def test_the_page_view_reads_blames_and_replays_a_page(demo_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    repo = open_repository(demo_dir)
    try:
        versions = [info for info in repo.log(["main"], page="prologue").commits][::-1]
        first, last = (repo.read_page("prologue", info.id) for info in (versions[0], versions[-1]))
        blame = repo.blame("prologue", "main")
    finally:
        repo.close()
    assert len(versions) >= 2 and _plain(first.body) != _plain(last.body)
    with serve(demo_dir) as server, open_view(browser, server, "/view/page?id=prologue", ViewTab) as view:
        expect(view.tab.locator("#page-title")).to_have_text(last.title)
        assert _paragraphs(view) == _plain(last.body)
        authors = view.tab.locator("#paragraphs .blame strong").all_inner_texts()
        assert authors == [entry.commit.actor_name for entry in blame]
        for target in last.links():
            link = view.tab.locator(f'#paragraphs a.page-link[href="page?id={target}"]')
            expect(link.first).to_have_text(target)
        expect(view.tab.locator("#versions li")).to_have_count(len(versions))
        view.screenshot("page.png")
        # The scrubber, moved by the keyboard to the first version: the page as it was then.
        view.tab.locator("#slider").focus()
        view.tab.keyboard.press("Home")
        expect(view.tab.locator("body")).to_have_attribute("data-version", versions[0].id)
        expect(view.tab.locator("#version-label")).to_contain_text(f"version 1 of {len(versions)}")
        assert _paragraphs(view) == _plain(first.body)
        # One step on: what the next version changed is marked.
        view.tab.keyboard.press("ArrowRight")
        expect(view.tab.locator("body")).to_have_attribute("data-version", versions[1].id)
        changed = view.tab.locator('#paragraphs .paragraph[data-kind="changed"] .text').all_inner_texts()
        new = set(_plain(repo_page_body(demo_dir, versions[1].id))) - set(_plain(first.body))
        assert changed and {" ".join(text.split()) for text in changed} == new
        expect(view.tab.locator('#paragraphs .paragraph[data-kind="removed"]').first).to_be_visible()
        view.screenshot("page-replay.png")
        # A link goes to the linked page's view, at the version shown.
        link = view.tab.locator("#paragraphs a.page-link").first
        target = link.inner_text()
        link.click()
        expect(view.tab).to_have_url(f"{server.base}/view/page?id={target}&rev={versions[1].id}")
        expect(view.tab.locator("body")).to_have_attribute("data-state", "ready")
        expect(view.tab.locator("#page-meta")).to_contain_text(target)


def repo_page_body(story: Path, rev: str) -> str:
    repo = open_repository(story)
    try:
        return repo.read_page("prologue", rev).body
    finally:
        repo.close()


def test_story_text_is_never_run_as_html(demo_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    attack = '<img src=x onerror="window.pwned=1">'
    repo = open_repository(demo_dir)
    try:
        page = Page(
            "trap", attack, f"Look: {attack} <script>window.pwned=2</script>\n", follows=("epilogue",)
        )
        repo.commit(
            "main",
            ChangeSet().upsert_page(page),
            actor="london-fox",
            message=f"Trap {attack}",
            expected_head=repo.branch_head("main"),
        )
    finally:
        repo.close()
    with serve(demo_dir) as server:
        with open_view(browser, server, "/view/page?id=trap", ViewTab) as view:
            expect(view.tab.locator("#page-title")).to_have_text(attack)
            expect(view.tab.locator("#paragraphs .text")).to_contain_text("<script>window.pwned=2</script>")
            assert view.tab.locator("#paragraphs img, #paragraphs script").count() == 0
            assert view.tab.evaluate("() => window.pwned") is None
        with open_view(browser, server, "/view/history", HistoryTab) as view:
            expect(view.tab.locator("#rows .row").first.locator(".subject")).to_have_text(f"Trap {attack}")
            assert view.tab.locator("#rows img").count() == 0
            assert view.tab.evaluate("() => window.pwned") is None


def test_the_proposal_view_shows_the_diff_and_votes_with_a_token(demo_dir: Path, browser: Browser) -> None:
    from playwright.sync_api import expect

    repo = open_repository(demo_dir)
    try:
        tokens = {
            actor: create_token(repo.access, actor, label="views")[1] for actor in ("imogen", "cop-e-right")
        }
    finally:
        repo.close()
    with serve(demo_dir) as server:
        variables = {"input": {"source": "alt-ending", "target": "main", "message": "Take the fox's ending"}}
        opened = server.graphql(PROPOSE, variables, authorization=f"Bearer {tokens['imogen']}")
        number = opened["data"]["propose"]["number"]
        with open_view(browser, server, f"/view/proposal?n={number}", ViewTab) as view:
            expect(view.tab.locator("#message")).to_have_text("Take the fox's ending")
            expect(view.tab.locator("#summary")).to_contain_text(
                f"#{number}: alt-ending into main proposed by imogen"
            )
            expect(view.tab.locator('#diff .change[data-path="pages/epilogue-alt.md"] .badge')).to_have_text(
                "added"
            )
            rules = view.tab.locator("#rules").inner_text()
            assert "2 voters" in rules and "more than 50% yes" in rules and "1 day" in rules
            # Without a token the buttons say one is needed, and do nothing.
            yes = view.tab.locator("#vote-yes")
            expect(yes).to_be_disabled()
            expect(yes).to_have_text("Yes: a token is needed")
            expect(view.tab.locator("#vote-note")).to_contain_text("A token is needed")
            expect(view.tab.locator("#tally")).to_contain_text("no votes yet")
            view.screenshot("proposal.png")
            view.tab.locator("#token").fill(tokens["cop-e-right"])
            view.tab.locator("#token-form button[type=submit]").click()
            expect(yes).to_have_text("Vote yes")
            yes.click()
            expect(view.tab.locator("body")).to_have_attribute("data-voters", "1")
            expect(view.tab.locator('#votes tr[data-actor="cop-e-right"]')).to_contain_text("yes")
            expect(view.tab.locator("#tally")).to_contain_text("yes 1")
            assert (
                view.tab.evaluate("() => window.localStorage.getItem('gvcs-token')") == tokens["cop-e-right"]
            )
            view.screenshot("proposal-voted.png")
            # A second vote is refused: the API's one-line message is shown.
            view.tab.locator("#vote-no").click()
            message = f"cop-e-right already voted yes on proposal {number}: one vote per actor"
            expect(view.tab.locator("#vote-error")).to_have_text(message)
        answer = server.graphql(
            "query($n: Int!) { proposal(number: $n) { tally { voters yes } } }", {"n": number}
        )
        assert answer["data"]["proposal"]["tally"] == {"voters": 1, "yes": 1.0}
        # The second vote merges it: the history marks the merge and links it to the proposal.
        final = server.graphql(VOTE, {"n": number}, authorization=f"Bearer {tokens['imogen']}")
        assert final["data"]["vote"]["status"] == "executed"
        with open_view(browser, server, "/view/history", HistoryTab) as view:
            badge = view.tab.locator("#rows .badge.proposal")
            expect(badge).to_have_count(1)
            expect(badge).to_have_text(f"proposal #{number}")
            badge.click()
            expect(view.tab).to_have_url(f"{server.base}/view/proposal?n={number}")
            expect(view.tab.locator("body")).to_have_attribute("data-status", "executed")
            expect(view.tab.locator("#vote-note")).to_contain_text("Voting is closed")
