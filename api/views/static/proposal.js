// The proposal view of gvcs serve: what a proposal merges (GraphQL Proposal.diff), its rules, tally and
// votes, and yes/no buttons that vote with the token kept under localStorage "gvcs-token". docs/views.md.
"use strict";

const params = new URLSearchParams(window.location.search);
const number = Number(params.get("n"));

const state = { proposal: null, votes: 0, loads: 0 };
window.gvcsProposal = state; // for the browser tests

const PROPOSAL = `query($n: Int!) { proposal(number: $n) { number status hearing source target message proposer
  opened closes rules { quorum threshold window weight stake ledger }
  votes { actor choice stake weight time }
  tally { voters yes no share quorum quorumReached threshold passing }
  result { status reason time commit { id shortId } }
  sourceHead { id shortId } targetHead { id shortId }
  diff { basis from { id shortId } to { id shortId } changes { ${gvcs.CHANGE_FIELDS} } } } }`;
const VOTE = "mutation($n: Int!, $choice: VoteChoice!) { vote(number: $n, choice: $choice) { number status } }";

function duration(seconds) {
  if (seconds % 86400 === 0) {
    return `${seconds / 86400} day${seconds === 86400 ? "" : "s"}`;
  }
  if (seconds % 3600 === 0) {
    return `${seconds / 3600} h`;
  }
  return `${seconds} s`;
}

function showSummary(p) {
  const h = gvcs.h;
  const what = p.hearing ? `a hearing on ${p.target}` : [h("code", {}, p.source), " into ", h("code", {}, p.target)];
  const result = p.result ? [`; ${p.result.status}`, p.result.reason ? ` (${p.result.reason})` : ""] : "";
  const merged = p.result && p.result.commit ? [" as ", h("a", { href: `history?commit=${p.result.commit.id}` }, p.result.commit.shortId)] : "";
  const parts = [
    h("span", { class: `badge ${p.status}` }, p.status),
    ` #${p.number}: `,
    what,
    ` proposed by ${p.proposer}, ${gvcs.when(p.opened)}; closes ${gvcs.when(p.closes)} UTC`,
    result,
    merged,
  ];
  gvcs.element("summary").replaceChildren(...parts.flat());
}

function showDiff(diff) {
  const h = gvcs.h;
  const basis = diff.basis === "merged" ? "what the merge changed" : diff.basis === "hearing" ? "a hearing merges nothing" : "what the source brings that the target lacks";
  const range = diff.from && diff.to ? `, ${diff.from.shortId}..${diff.to.shortId}` : "";
  gvcs.element("diff-basis").textContent = `(${basis}${range})`;
  const rev = diff.to ? diff.to.id : null;
  gvcs.element("diff").replaceChildren(...(diff.basis === "hearing" ? [h("p", { class: "muted" }, "Nothing to merge.")] : gvcs.renderChanges(diff.changes, rev)));
}

function showVoting(p) {
  const h = gvcs.h;
  const t = p.tally;
  const total = t.yes + t.no;
  gvcs.element("bar-yes").style.width = total ? `${(100 * t.yes) / total}%` : "0";
  gvcs.element("bar-no").style.width = total ? `${(100 * t.no) / total}%` : "0";
  const share = t.share === null ? "no votes yet" : `${Math.round(t.share * 100)}% yes`;
  gvcs.element("tally").textContent = `yes ${t.yes} · no ${t.no} · ${share} · ${t.voters} of ${t.quorum} voters needed${t.quorumReached ? " (quorum reached)" : ""} · ${t.passing ? "passing" : "not passing"}`;
  const r = p.rules;
  const rules = [
    ["Quorum", `${r.quorum} voters`],
    ["Threshold", `more than ${Math.round(r.threshold * 100)}% yes`],
    ["Window", duration(r.window)],
    ["Weight", r.weight],
    ["Stakes", `${r.stake} (ledger of ${r.ledger})`],
  ];
  gvcs.element("rules").replaceChildren(...rules.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  gvcs.element("votes").replaceChildren(
    ...(p.votes.length
      ? p.votes.map((v) => h("tr", { "data-actor": v.actor }, h("td", {}, v.actor), h("td", {}, v.choice), h("td", {}, `weight ${v.weight}`), h("td", { class: "muted" }, gvcs.when(v.time))))
      : [h("tr", {}, h("td", { class: "muted" }, "No votes yet."))]),
  );
  showButtons(p);
}

function showButtons(p) {
  const open = p.status === "open";
  const token = gvcs.token();
  const buttons = [gvcs.element("vote-yes"), gvcs.element("vote-no")];
  gvcs.element("vote-buttons").hidden = !open;
  for (const button of buttons) {
    const word = button.dataset.choice === "YES" ? "Yes" : "No";
    button.disabled = !token;
    button.textContent = token ? `Vote ${word.toLowerCase()}` : `${word}: a token is needed`;
  }
  gvcs.element("vote-note").textContent = !open
    ? `Voting is closed: the proposal is ${p.status}.`
    : token
      ? "You vote as your token's actor."
      : "A token is needed to vote: keep one here (gvcs token create ACTOR).";
  gvcs.element("token").value = "";
  gvcs.element("token").placeholder = token ? "a token is kept" : "gvcs_…";
}

async function load() {
  const data = await gvcs.graphql(PROPOSAL, { n: number });
  const p = data.proposal;
  if (!p) {
    throw new Error(`proposal ${number} not found`);
  }
  state.proposal = p;
  state.loads += 1;
  document.title = `gvcs — proposal #${p.number}`;
  gvcs.element("title").textContent = `Proposal #${p.number}`;
  gvcs.element("message").textContent = p.message;
  showSummary(p);
  showDiff(p.diff);
  showVoting(p);
  gvcs.element("proposal").hidden = false;
  gvcs.element("voting").hidden = false;
  document.body.dataset.status = p.status;
  document.body.dataset.voters = String(p.tally.voters);
}

async function vote(choice) {
  gvcs.element("vote-error").textContent = "";
  try {
    await gvcs.graphql(VOTE, { n: number, choice });
    state.votes += 1;
    await load();
    gvcs.setStatus(`Voted ${choice.toLowerCase()}.`);
  } catch (error) {
    gvcs.element("vote-error").textContent = error.message;
  }
}

function controls() {
  const form = gvcs.element("controls");
  form.elements.n.value = params.get("n") || "";
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.href = `proposal?n=${encodeURIComponent(form.elements.n.value.trim())}`;
  });
  gvcs.element("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    gvcs.setToken(gvcs.element("token").value.trim());
    if (state.proposal) {
      showButtons(state.proposal);
    }
  });
  gvcs.element("forget").addEventListener("click", () => {
    gvcs.setToken("");
    if (state.proposal) {
      showButtons(state.proposal);
    }
  });
  for (const button of [gvcs.element("vote-yes"), gvcs.element("vote-no")]) {
    button.addEventListener("click", () => vote(button.dataset.choice));
  }
}

async function main() {
  controls();
  if (!Number.isInteger(number) || number < 1) {
    document.body.dataset.state = "error";
    gvcs.setStatus("Which proposal? Give its number (proposal?n=1).", true);
    return;
  }
  try {
    await load();
    gvcs.setStatus(state.proposal.status === "open" ? "Open for votes." : `This proposal is ${state.proposal.status}.`);
    document.body.dataset.state = "ready";
    // A vote or the merge elsewhere changes it: read it again after each commit.
    gvcs.listen(null, () => load().catch((error) => gvcs.setStatus(error.message, true)));
  } catch (error) {
    document.body.dataset.state = "error";
    gvcs.setStatus(`Cannot show proposal ${number}: ${error.message}`, true);
  }
}

main();
