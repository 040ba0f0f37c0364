// The history view of gvcs serve: the commits of every branch from /view/data/history, one row each,
// newest first, with the lines of descent drawn in lanes (SVG); a click shows a commit's semantic diff
// (GraphQL commit.diff, against its first parent); new commits come from /events. docs/views.md.
"use strict";

const ROW = 30; // px: one row per commit, the SVG and the list share it
const LANE = 16;
const COLOURS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#65a30d", "#db2777"];
const PAGE_SIZE = Number(new URLSearchParams(window.location.search).get("first")) || 50;

const state = { commits: [], next: null, head: null, layout: null, selected: null, renders: 0, updates: 0 };
window.gvcsHistory = state; // for the browser tests

// Lanes that stay where they are: a commit takes the lane its child reserved for it (or a free one); its
// first parent keeps that lane, other parents take free lanes; a lane is freed when its line ends.
function layout(commits) {
  const lanes = [];
  const rows = [];
  const take = (id, from) => {
    let free = lanes.indexOf(null, from);
    if (free === -1) {
      free = lanes.length;
      lanes.push(null);
    }
    lanes[free] = id;
    return free;
  };
  for (const commit of commits) {
    let lane = lanes.indexOf(commit.id);
    if (lane === -1) {
      lane = take(commit.id, 0);
    }
    // Other children's lines end here too.
    for (let j = 0; j < lanes.length; j += 1) {
      if (lanes[j] === commit.id) {
        lanes[j] = null;
      }
    }
    const parents = [];
    commit.parents.forEach((parent, index) => {
      const waiting = lanes.indexOf(parent);
      if (waiting !== -1) {
        parents.push({ id: parent, lane: waiting });
      } else if (index === 0) {
        lanes[lane] = parent;
        parents.push({ id: parent, lane });
      } else {
        parents.push({ id: parent, lane: take(parent, lane + 1) });
      }
    });
    rows.push({ commit, lane, parents });
  }
  return { rows, width: Math.max(1, ...rows.map((row) => Math.max(row.lane, ...row.parents.map((p) => p.lane)) + 1)) };
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  return node;
}

const x = (lane) => LANE / 2 + 4 + lane * LANE;
const y = (row) => row * ROW + ROW / 2;
const colour = (lane) => COLOURS[lane % COLOURS.length];

function drawLanes(plan) {
  const lanes = gvcs.element("lanes");
  lanes.replaceChildren();
  const width = x(plan.width) + 4;
  const height = plan.rows.length * ROW + (state.next ? ROW : 0);
  lanes.setAttribute("width", width);
  lanes.setAttribute("height", height);
  gvcs.element("rows").style.paddingLeft = `${width + 8}px`;
  gvcs.element("graph").style.minHeight = `${height}px`; // the lines running on stay above "more"
  const rowOf = new Map(plan.rows.map((row, index) => [row.commit.id, index]));
  plan.rows.forEach((row, index) => {
    for (const parent of row.parents) {
      const end = rowOf.has(parent.id) ? y(rowOf.get(parent.id)) : height; // not loaded yet: off the bottom
      const [x1, y1, x2] = [x(row.lane), y(index), x(parent.lane)];
      const bend = Math.min(end, y1 + ROW);
      const d = x1 === x2 ? `M${x1},${y1} L${x2},${end}` : `M${x1},${y1} C${x1},${y1 + ROW * 0.6} ${x2},${bend - ROW * 0.6} ${x2},${bend} L${x2},${end}`;
      lanes.append(svg("path", { d, fill: "none", stroke: colour(x1 === x2 || parent.lane > row.lane ? parent.lane : row.lane), "stroke-width": 2 }));
    }
  });
  plan.rows.forEach((row, index) => {
    const merge = row.commit.parents.length > 1;
    const dot = svg("circle", {
      cx: x(row.lane),
      cy: y(index),
      r: merge ? 6 : 5,
      fill: row.commit.proposal !== null ? "#facc15" : merge ? "#fff" : colour(row.lane),
      stroke: row.commit.proposal !== null ? "#854d0e" : colour(row.lane),
      "stroke-width": merge ? 3 : 1.5,
      "data-id": row.commit.id,
    });
    lanes.append(dot);
  });
}

function badges(commit) {
  const h = gvcs.h;
  const out = [];
  for (const branch of commit.branches) {
    out.push(h("span", { class: branch === state.head ? "badge branch head" : "badge branch", title: "branch head" }, branch));
  }
  for (const tag of commit.tags) {
    out.push(h("span", { class: "badge tag", title: "tag" }, tag));
  }
  if (commit.proposal !== null) {
    out.push(h("a", { class: "badge proposal", href: `proposal?n=${commit.proposal}`, title: "merged by a proposal" }, `proposal #${commit.proposal}`));
  } else if (commit.parents.length > 1) {
    out.push(h("span", { class: "badge merge" }, "merge"));
  }
  return out;
}

function drawRows(plan) {
  const h = gvcs.h;
  const rows = plan.rows.map(({ commit }) =>
    h(
      "li",
      {
        class: commit.id === state.selected ? "row selected" : "row",
        "data-id": commit.id,
        tabindex: 0,
        onclick: () => select(commit.id),
        onkeydown: (event) => event.key === "Enter" && select(commit.id),
      },
      h("code", { class: "short" }, commit.shortId),
      ...badges(commit),
      h("span", { class: "subject" }, commit.subject),
      h("span", { class: "meta" }, `${commit.actorName || commit.actor} · ${gvcs.when(commit.time)}`),
    ),
  );
  gvcs.element("rows").replaceChildren(...rows);
}

function render() {
  state.layout = layout(state.commits);
  drawLanes(state.layout);
  drawRows(state.layout);
  gvcs.element("more").hidden = !state.next;
  state.renders += 1;
  document.body.dataset.state = "ready";
  document.body.dataset.rows = String(state.commits.length);
}

function describe() {
  const branches = Object.keys(state.branches || {}).length;
  return `${state.commits.length} commits of ${branches} branch${branches === 1 ? "" : "es"}${state.next ? " (more below)" : ""}`;
}

async function loadFirst(count, reason) {
  try {
    const data = await gvcs.getJSON(`data/history?first=${count}`);
    Object.assign(state, { commits: data.commits, next: data.next, head: data.head, branches: data.branches });
    render();
    gvcs.setStatus(describe() + (reason ? `. ${reason}` : ""));
  } catch (error) {
    document.body.dataset.state = "error";
    gvcs.setStatus(`Cannot show the history: ${error.message}`, true);
  }
}

async function loadMore() {
  try {
    const query = new URLSearchParams({ first: PAGE_SIZE, after: state.next });
    const data = await gvcs.getJSON(`data/history?${query.toString()}`);
    state.commits = state.commits.concat(data.commits);
    state.next = data.next;
    render();
    gvcs.setStatus(describe());
  } catch (error) {
    gvcs.setStatus(`Cannot load more commits: ${error.message}`, true);
  }
}

const COMMIT = `query($id: String!) { commit(id: $id) { id shortId subject message actorName time
  parents { id shortId } diff { ${gvcs.CHANGE_FIELDS} } } }`;

async function select(id) {
  state.selected = id;
  for (const row of document.querySelectorAll("#rows .row")) {
    row.classList.toggle("selected", row.dataset.id === id);
  }
  const h = gvcs.h;
  const panel = gvcs.element("commit");
  panel.dataset.state = "loading";
  try {
    const { commit } = await gvcs.graphql(COMMIT, { id });
    if (state.selected !== id) {
      return;
    }
    panel.hidden = false;
    gvcs.element("commit-subject").textContent = commit.subject;
    gvcs.element("commit-id").textContent = commit.id;
    gvcs.element("commit-actor").textContent = commit.actorName;
    gvcs.element("commit-time").textContent = gvcs.when(commit.time) + " UTC";
    gvcs.element("commit-parents").replaceChildren(
      ...commit.parents.flatMap((parent, index) => [index ? ", " : "", h("code", {}, parent.shortId)]),
    );
    gvcs.element("commit-message").textContent = commit.message;
    const first = commit.parents[0];
    gvcs.element("commit-against").textContent = first ? `against ${first.shortId}` : "(the first commit)";
    const listed = state.commits.find((c) => c.id === id);
    const links = [h("a", { href: `map?rev=${commit.id}` + (first ? `&base=${first.id}` : "") }, "Story map of this commit")];
    if (listed && listed.proposal !== null) {
      links.push(" · ", h("a", { href: `proposal?n=${listed.proposal}` }, `Proposal #${listed.proposal}`));
    }
    gvcs.element("commit-links").replaceChildren(...links);
    gvcs.element("diff").replaceChildren(...gvcs.renderChanges(commit.diff, commit.id));
    panel.dataset.state = "ready";
    panel.dataset.commit = commit.id;
  } catch (error) {
    panel.dataset.state = "error";
    gvcs.setStatus(`Cannot show commit ${id.slice(0, 10)}: ${error.message}`, true);
  }
}

async function main() {
  gvcs.element("more").addEventListener("click", loadMore);
  await loadFirst(PAGE_SIZE, "");
  const wanted = new URLSearchParams(window.location.search).get("commit");
  if (wanted) {
    await select(wanted);
  }
  gvcs.listen(null, async (commit) => {
    state.updates += 1;
    // Reload what is shown, and the new commits above it.
    const count = Math.min(500, Math.max(PAGE_SIZE, state.commits.length + 1));
    await loadFirst(count, `New commit ${commit.shortId} on ${commit.branch}: “${commit.subject}”`);
  });
}

main();
