// The story map of gvcs serve: the page graph of a revision from /view/data/map, drawn by cytoscape.js,
// redrawn when a commit lands on the branch shown (server-sent events from /events). docs/views.md.
"use strict";

const params = new URLSearchParams(window.location.search);
// When reads need a token (gvcs access token), the map sends the one kept under this key, if any.
const token = window.localStorage.getItem("gvcs-token");
const state = { cy: null, data: null, renders: 0, firstRender: null, selected: null, updates: 0 };
window.gvcsMap = state; // for the browser tests and the bench

const EDGE_STYLES = {
  FOLLOWS: { "line-color": "#555", "target-arrow-color": "#555", "line-style": "solid", width: 2.5 },
  ALTERNATE_OF: { "line-color": "#d97706", "target-arrow-color": "#d97706", "line-style": "dashed", width: 2 },
  LINKS_TO: { "line-color": "#2563eb", "target-arrow-color": "#2563eb", "line-style": "dotted", width: 1.5 },
};
const NODE_COLOURS = { same: "#cbd5e1", added: "#16a34a", changed: "#eab308", removed: "#dc2626", missing: "#fff" };

function element(id) {
  return document.getElementById(id);
}

function setStatus(text, isError) {
  element("status").textContent = text;
  element("status").classList.toggle("error", Boolean(isError));
}

function dataURL() {
  const query = new URLSearchParams();
  for (const key of ["rev", "base", "around", "depth", "limit"]) {
    if (params.get(key)) {
      query.set(key, params.get(key));
    }
  }
  return "data/map?" + query.toString();
}

function mapURL(changes) {
  const query = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "") {
      query.delete(key);
    } else {
      query.set(key, value);
    }
  }
  return "map?" + query.toString();
}

async function load() {
  const headers = { accept: "application/json" };
  if (token) {
    headers.authorization = "Bearer " + token;
  }
  const response = await fetch(dataURL(), { headers });
  const body = await response.json();
  if (!response.ok) {
    const message = body.errors ? body.errors[0].message : response.statusText;
    throw new Error(message);
  }
  return body;
}

function styles() {
  const sheet = [
    {
      selector: "node",
      style: {
        label: "data(title)",
        "background-color": "data(colour)",
        "border-width": 1,
        "border-color": "#475569",
        "font-size": 11,
        "text-valign": "bottom",
        "text-margin-y": 4,
        "text-wrap": "ellipsis",
        "text-max-width": 120,
        width: 22,
        height: 22,
      },
    },
    { selector: "node[status = 'missing']", style: { "border-style": "dashed", color: "#888" } },
    { selector: "node[status = 'removed']", style: { opacity: 0.7 } },
    { selector: "node:selected", style: { "border-width": 4, "border-color": "#111" } },
    { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.8 } },
  ];
  for (const [type, style] of Object.entries(EDGE_STYLES)) {
    sheet.push({ selector: `edge[type = '${type}']`, style });
  }
  return sheet;
}

function elements(data) {
  const nodes = data.nodes.map((node) => ({
    group: "nodes",
    data: { ...node, colour: NODE_COLOURS[node.status] || NODE_COLOURS.same },
  }));
  const edges = data.edges.map((edge, index) => ({
    group: "edges",
    data: { id: `e${index}`, ...edge },
  }));
  return nodes.concat(edges);
}

function draw(data) {
  if (state.cy) {
    state.cy.destroy();
  }
  const cy = cytoscape({
    container: element("map"),
    elements: elements(data),
    style: styles(),
    wheelSensitivity: 0.3,
    minZoom: 0.05,
  });
  state.cy = cy;
  cy.on("tap", "node", (event) => showPage(event.target.data()));
  cy.on("tap", (event) => {
    if (event.target === cy) {
      hidePage();
    }
  });
  cy.one("layoutstop", () => {
    // Two frames: the layout is drawn on the next one.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        state.renders += 1;
        if (state.firstRender === null) {
          state.firstRender = performance.now();
        }
        document.body.dataset.commit = data.commit;
        document.body.dataset.state = "ready";
      }),
    );
  });
  // Reading order left to right: a breadth-first layout along FOLLOWS, from the pages that follow none.
  const reading = cy.elements().not("edge[type != 'FOLLOWS']");
  reading
    .layout({
      name: "breadthfirst",
      directed: true,
      roots: reading.nodes().roots(),
      spacingFactor: 0.9,
      animate: false,
      transform: (node, position) => ({ x: position.y * 1.6, y: position.x }),
    })
    .run();
  if (state.selected && cy.getElementById(state.selected).nonempty()) {
    cy.getElementById(state.selected).select();
  }
}

function showPage(page) {
  state.selected = page.id;
  element("details").hidden = false;
  element("page-title").textContent = page.title;
  element("page-id").textContent = page.id;
  element("page-words").textContent = page.words === null ? "—" : String(page.words);
  element("page-status").textContent = page.status;
  element("page-around").href = mapURL({ around: page.id });
  const rev = page.status === "removed" ? state.data.baseCommit : state.data.commit;
  element("page-read").href = "page?" + new URLSearchParams({ id: page.id, rev: params.get("rev") || rev }).toString();
  const query = `{ page(id: ${JSON.stringify(page.id)}, rev: ${JSON.stringify(rev)}) { title tags follows alternateOf links body } }`;
  element("page-query").href = "../graphql?" + new URLSearchParams({ q: query }).toString();
}

function hidePage() {
  state.selected = null;
  element("details").hidden = true;
}

function describe(data) {
  const where = data.branch ? `${data.branch} @ ${data.commit.slice(0, 10)}` : data.commit.slice(0, 10);
  let text = `${data.shown} of ${data.total} pages at ${where}`;
  if (data.base) {
    text += `, compared with ${data.base}`;
  }
  if (data.around) {
    text += `, within ${data.depth} of ${data.around}`;
  } else if (data.truncated) {
    text += ` (the first ${data.shown}: click a page and centre the map on it to see more)`;
  }
  return text;
}

function showLegend(data) {
  element("legend-compare").hidden = !data.base;
  for (const kind of ["added", "changed", "removed"]) {
    element("count-" + kind).textContent = data.base ? `(${data.counts[kind]})` : "";
  }
}

async function refresh(reason) {
  try {
    const data = await load();
    state.data = data;
    document.title = `gvcs — story map — ${data.title || data.rev}`;
    element("title").textContent = data.title ? `Story map: ${data.title}` : "Story map";
    draw(data);
    showLegend(data);
    setStatus(describe(data) + (reason ? `. ${reason}` : ""));
    if (state.selected) {
      const node = state.cy.getElementById(state.selected);
      if (node.nonempty()) {
        showPage(node.data());
      } else {
        hidePage();
      }
    }
    return data;
  } catch (error) {
    document.body.dataset.state = "error";
    setStatus(`Cannot show the map: ${error.message}`, true);
    return null;
  }
}

function listen(branch) {
  const query = new URLSearchParams({ branch });
  if (token) {
    query.set("access_token", token);
  }
  const source = new EventSource("../events?" + query.toString());
  let pending = null;
  source.addEventListener("commit", (event) => {
    const commit = JSON.parse(event.data);
    // Several commits in a row: one redraw, for the last.
    clearTimeout(pending);
    pending = setTimeout(async () => {
      state.updates += 1;
      await refresh(`Updated for ${commit.shortId} “${commit.subject}”`);
    }, 100);
  });
}

function fillControls() {
  const form = element("controls");
  for (const key of ["rev", "base", "around", "depth"]) {
    form.elements[key].value = params.get(key) || "";
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = {};
    for (const key of ["rev", "base", "around", "depth"]) {
      changes[key] = form.elements[key].value.trim();
    }
    window.location.href = mapURL(changes);
  });
}

async function main() {
  fillControls();
  const data = await refresh("");
  if (data && data.branch) {
    listen(data.branch);
  }
}

main();
