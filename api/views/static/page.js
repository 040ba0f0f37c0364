// The page view of gvcs serve: a page rendered for reading (markdown, story text escaped, [[links]] to
// other pages), who wrote each paragraph (GraphQL Page.blame), the commits that changed it
// (Page.history) and a replay scrubber through those versions, each shown with what it changed. docs/views.md.
"use strict";

const params = new URLSearchParams(window.location.search);
const pageId = params.get("id") || "";
const rev = params.get("rev") || "HEAD";
const HISTORY = 200; // versions the replay goes back through

const state = { page: null, versions: [], shown: null, cache: new Map(), replays: 0 };
window.gvcsPage = state; // for the browser tests

const PAGE = `query($id: String!, $rev: String!, $first: Int!) { repository { title }
  page(id: $id, rev: $rev) { id revision title tags wordCount
    follows { id title } followedBy { id title } alternateOf { id title } alternates { id title } links
    history(first: $first) { edges { node { id shortId subject actorName time } } pageInfo { hasNextPage } }
    blame { paragraph text commit { id shortId actorName subject time } } } }`;
const VERSION = `query($id: String!, $rev: String!) { page(id: $id, rev: $rev) { title
  blame { paragraph text commit { id shortId actorName subject time } } } }`;

// The page as one version has it: its title and blamed paragraphs; null when the commit deleted it.
async function version(commitId) {
  if (!state.cache.has(commitId)) {
    const loading = gvcs.graphql(VERSION, { id: pageId, rev: commitId }).then(
      (data) => data.page,
      (error) => {
        if (/not found|no page/i.test(error.message)) {
          return null;
        }
        state.cache.delete(commitId);
        throw error;
      },
    );
    state.cache.set(commitId, loading);
  }
  return state.cache.get(commitId);
}

// The paragraphs of two versions aligned (longest common subsequence): same, added or removed.
function align(before, after) {
  const n = before.length;
  const m = after.length;
  const table = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      table[i][j] = before[i].text === after[j].text ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const out = [];
  let [i, j] = [0, 0];
  while (i < n || j < m) {
    if (i < n && j < m && before[i].text === after[j].text) {
      out.push({ kind: "same", entry: after[j] });
      i += 1;
      j += 1;
    } else if (i < n && (j === m || table[i + 1][j] >= table[i][j + 1])) {
      // What went comes before what replaced it.
      out.push({ kind: "removed", entry: before[i] });
      i += 1;
    } else {
      out.push({ kind: "changed", entry: after[j] });
      j += 1;
    }
  }
  return out;
}

function paragraph(kind, entry, at) {
  const h = gvcs.h;
  const commit = entry.commit;
  return h(
    "div",
    { class: `paragraph ${kind}`, "data-paragraph": entry.paragraph, "data-kind": kind },
    h("div", { class: "text" }, gvcs.block(entry.text, at)),
    h(
      "div",
      { class: "blame", title: commit.subject },
      kind === "removed" ? "removed here" : [h("strong", {}, commit.actorName), h("br"), h("a", { href: `history?commit=${commit.id}` }, commit.shortId), ` · ${gvcs.when(commit.time).slice(0, 10)}`],
    ),
  );
}

function showParagraphs(entries, at) {
  gvcs.element("paragraphs").replaceChildren(...entries.map((item) => paragraph(item.kind, item.entry, at)));
}

function links(page) {
  const h = gvcs.h;
  const list = (pages) => (pages.length ? pages.map((p, i) => [i ? ", " : "", h("a", { href: gvcs.pageURL(p.id, params.get("rev")) }, p.title || p.id)]).flat() : "—");
  const rows = [
    ["Follows", list(page.follows)],
    ["Followed by", list(page.followedBy)],
    ["Alternate of", list(page.alternateOf ? [page.alternateOf] : [])],
    ["Alternates", list(page.alternates)],
    ["Links to", list(page.links.map((id) => ({ id, title: id })))],
  ];
  gvcs.element("link-list").replaceChildren(...rows.flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
  gvcs.element("links").hidden = false;
}

function historyList() {
  const h = gvcs.h;
  const items = [...state.versions].reverse().map((commit) =>
    h(
      "li",
      { "data-id": commit.id },
      h("a", { href: "#", onclick: (event) => (event.preventDefault(), scrub(state.versions.indexOf(commit))) }, commit.subject),
      h("br"),
      h("span", { class: "muted" }, `${commit.actorName} · ${gvcs.when(commit.time)} · `),
      h("a", { href: `history?commit=${commit.id}`, class: "muted" }, commit.shortId),
    ),
  );
  gvcs.element("versions").replaceChildren(...items);
  gvcs.element("history-panel").hidden = false;
}

// Show version ``index`` (0: the oldest), with what it changed against the version before it.
async function scrub(index) {
  const slider = gvcs.element("slider");
  slider.value = String(index);
  state.shown = index;
  const commit = state.versions[index];
  const total = state.versions.length;
  gvcs.element("version-label").textContent = `version ${index + 1} of ${total}: ${commit.shortId} “${commit.subject}” by ${commit.actorName}, ${gvcs.when(commit.time)}`;
  for (const item of document.querySelectorAll("#versions li")) {
    item.classList.toggle("current", item.dataset.id === commit.id);
  }
  document.body.dataset.version = "loading";
  try {
    const [now, before] = await Promise.all([version(commit.id), index > 0 ? version(state.versions[index - 1].id) : null]);
    if (state.shown !== index) {
      return;
    }
    if (now === null) {
      gvcs.element("page-title").textContent = state.page.title;
      gvcs.element("paragraphs").replaceChildren(gvcs.h("p", { class: "muted" }, "This commit deleted the page."));
    } else {
      gvcs.element("page-title").textContent = now.title;
      showParagraphs(align(before ? before.blame : [], now.blame), commit.id);
    }
    state.replays += 1;
    document.body.dataset.version = commit.id;
  } catch (error) {
    gvcs.setStatus(`Cannot replay ${commit.shortId}: ${error.message}`, true);
  }
}

async function main() {
  const form = gvcs.element("controls");
  form.elements.id.value = pageId;
  form.elements.rev.value = params.get("rev") || "";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.href = gvcs.pageURL(form.elements.id.value.trim(), form.elements.rev.value.trim());
  });
  if (!pageId) {
    gvcs.setStatus("Which page? Give its id (page?id=prologue).", true);
    document.body.dataset.state = "error";
    return;
  }
  try {
    const data = await gvcs.graphql(PAGE, { id: pageId, rev, first: HISTORY });
    const page = data.page;
    state.page = page;
    document.title = `gvcs — ${page.title}`;
    gvcs.element("story").textContent = data.repository.title || "Page";
    gvcs.element("page-title").textContent = page.title;
    gvcs.element("page-meta").textContent = `${page.id} · ${page.wordCount} words · at ${rev} (${page.revision.slice(0, 10)})` + (page.tags.length ? ` · tags: ${page.tags.join(", ")}` : "");
    gvcs.element("nav-map").href = `map?around=${encodeURIComponent(page.id)}` + (params.get("rev") ? `&rev=${encodeURIComponent(params.get("rev"))}` : "");
    // The page as it reads at the revision asked for, each paragraph with who wrote it.
    showParagraphs(page.blame.map((entry) => ({ kind: "same", entry })), params.get("rev"));
    state.versions = page.history.edges.map((edge) => edge.node).reverse();
    const slider = gvcs.element("slider");
    slider.max = String(Math.max(0, state.versions.length - 1));
    slider.value = slider.max;
    slider.addEventListener("input", () => scrub(Number(slider.value)));
    state.shown = state.versions.length - 1;
    const last = state.versions[state.shown];
    gvcs.element("version-label").textContent = last ? `version ${state.versions.length} of ${state.versions.length} (latest): ${last.shortId} “${last.subject}”` : "";
    links(page);
    historyList();
    gvcs.element("reading").hidden = false;
    const more = page.history.pageInfo.hasNextPage ? ` (the last ${HISTORY})` : "";
    gvcs.setStatus(`${state.versions.length} versions${more}; move the slider to replay them.`);
    document.body.dataset.state = "ready";
  } catch (error) {
    document.body.dataset.state = "error";
    gvcs.setStatus(`Cannot show page ${pageId}: ${error.message}`, true);
  }
}

main();
