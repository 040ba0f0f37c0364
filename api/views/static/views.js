// What the history, page and proposal views share (docs/views.md): GraphQL and JSON requests with the
// token kept in the browser, elements built without innerHTML (story text is anyone's: it is only ever
// set as text), a small safe markdown renderer with [[links]] to the page view, and the semantic diff.
"use strict";

const gvcs = (() => {
  // The key the story map reads too.
  const TOKEN_KEY = "gvcs-token";

  function token() {
    return window.localStorage.getItem(TOKEN_KEY) || "";
  }

  function setToken(value) {
    if (value) {
      window.localStorage.setItem(TOKEN_KEY, value);
    } else {
      window.localStorage.removeItem(TOKEN_KEY);
    }
  }

  function headers() {
    const out = { accept: "application/json" };
    if (token()) {
      out.authorization = "Bearer " + token();
    }
    return out;
  }

  // The API's one-line message, whatever failed.
  async function answer(response) {
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      throw new Error(`${response.status} ${response.statusText}`.trim());
    }
    if (body.errors && body.errors.length) {
      throw new Error(body.errors[0].message);
    }
    if (!response.ok) {
      throw new Error(`${response.status} ${response.statusText}`.trim());
    }
    return body;
  }

  async function graphql(query, variables) {
    const response = await fetch("../graphql", {
      method: "POST",
      headers: { ...headers(), "content-type": "application/json" },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    return (await answer(response)).data;
  }

  async function getJSON(url) {
    return answer(await fetch(url, { headers: headers() }));
  }

  // h("a", {href: "x", class: "y"}, "text", child): attributes and text are never parsed as HTML.
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) {
        continue;
      }
      if (key.startsWith("on")) {
        node.addEventListener(key.slice(2), value);
      } else if (key === "class") {
        node.className = value;
      } else {
        node.setAttribute(key, value === true ? "" : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
      }
    }
    return node;
  }

  function element(id) {
    return document.getElementById(id);
  }

  function setStatus(text, isError) {
    const status = element("status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function pageURL(id, rev) {
    const query = new URLSearchParams({ id });
    if (rev) {
      query.set("rev", rev);
    }
    return "page?" + query.toString();
  }

  function when(seconds) {
    return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
  }

  // Inline markdown: [[page-id]] links, **strong**, *em* / _em_, `code`; everything else is text.
  const INLINE = /\[\[([a-z0-9][a-z0-9._-]{0,99})\]\]|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|`([^`]+)`/g;

  function inline(text, rev) {
    const out = [];
    let last = 0;
    for (const match of text.matchAll(INLINE)) {
      out.push(text.slice(last, match.index));
      if (match[1]) {
        out.push(h("a", { href: pageURL(match[1], rev), class: "page-link" }, match[1]));
      } else if (match[2]) {
        out.push(h("strong", {}, match[2]));
      } else if (match[3] || match[4]) {
        out.push(h("em", {}, match[3] || match[4]));
      } else {
        out.push(h("code", {}, match[5]));
      }
      last = match.index + match[0].length;
    }
    out.push(text.slice(last));
    return out;
  }

  // One paragraph (blank-line separated block) as an element: a heading, a quote, a list or a paragraph.
  function block(text, rev) {
    const heading = /^(#{1,6})\s+(.*)$/s.exec(text);
    if (heading) {
      return h("h" + Math.min(heading[1].length + 1, 6), {}, inline(heading[2], rev));
    }
    const lines = text.split("\n");
    if (lines.every((line) => /^>\s?/.test(line))) {
      return h("blockquote", {}, inline(lines.map((line) => line.replace(/^>\s?/, "")).join("\n"), rev));
    }
    if (lines.every((line) => /^[-*]\s+/.test(line))) {
      return h("ul", {}, lines.map((line) => h("li", {}, inline(line.replace(/^[-*]\s+/, ""), rev))));
    }
    return h("p", {}, inline(text, rev));
  }

  function paragraphs(body) {
    return body
      .split(/\n\s*\n/)
      .map((text) => text.trim())
      .filter((text) => text !== "");
  }

  function renderMarkdown(body, rev) {
    return paragraphs(body).map((text) => block(text, rev));
  }

  // The words of a changed paragraph: runs of equal, deleted and inserted text.
  function words(runs) {
    return runs.map((run) =>
      run.op === "equal" ? run.text : h(run.op === "deleted" ? "del" : "ins", {}, run.text),
    );
  }

  function paragraphChange(change) {
    const oldIndex = change.old_index ?? change.oldIndex;
    const newIndex = change.new_index ?? change.newIndex;
    if (change.op === "inserted") {
      return h("li", { class: "para inserted" }, h("span", { class: "op" }, `+ ¶${newIndex}`), h("ins", {}, change.new));
    }
    if (change.op === "deleted") {
      return h("li", { class: "para deleted" }, h("span", { class: "op" }, `− ¶${oldIndex}`), h("del", {}, change.old));
    }
    const moved = oldIndex !== newIndex ? ` (was ¶${oldIndex})` : "";
    const text = change.words ? words(change.words) : [h("del", {}, change.old), " ", h("ins", {}, change.new)];
    return h("li", { class: "para changed" }, h("span", { class: "op" }, `~ ¶${newIndex}${moved}`), text);
  }

  function listed(label, added, removed) {
    const out = [];
    for (const id of added || []) {
      out.push(h("li", { class: "link added" }, `${label} + `, h("a", { href: pageURL(id) }, id)));
    }
    for (const id of removed || []) {
      out.push(h("li", { class: "link removed" }, `${label} − ${id}`));
    }
    return out;
  }

  // One SemanticChange (docs/json.md): a file, its title, fields, links and paragraphs.
  function semanticChange(change, rev) {
    const name = change.kind === "page" && change.id ? h("a", { href: pageURL(change.id, change.status === "deleted" ? null : rev) }, change.path) : change.path;
    const items = [];
    if (change.title) {
      items.push(h("li", { class: "title" }, "title: ", h("del", {}, change.title.old ?? ""), " → ", h("ins", {}, change.title.new ?? "")));
    }
    for (const field of change.fields || []) {
      items.push(h("li", { class: "field" }, `${field.key}: ${JSON.stringify(field.old)} → ${JSON.stringify(field.new)}`));
    }
    const links = change.links;
    if (links) {
      items.push(...listed("follows", links.follows?.added, links.follows?.removed));
      items.push(...listed("links to", links.references?.added, links.references?.removed));
      if (links.alternate_of) {
        items.push(h("li", { class: "link" }, `alternate of: ${links.alternate_of.old ?? "—"} → ${links.alternate_of.new ?? "—"}`));
      }
    }
    if (change.problem) {
      items.push(h("li", { class: "problem" }, change.problem));
    }
    return h(
      "section",
      { class: `change ${change.status}`, "data-path": change.path },
      h("h3", {}, h("span", { class: `badge ${change.status}` }, change.status), " ", name),
      items.length ? h("ul", { class: "facts" }, items) : null,
      (change.paragraphs || []).length ? h("ol", { class: "paragraphs" }, change.paragraphs.map(paragraphChange)) : null,
    );
  }

  function renderChanges(changes, rev) {
    if (!changes.length) {
      return [h("p", { class: "empty" }, "No changes.")];
    }
    return changes.map((change) => semanticChange(change, rev));
  }

  const CHANGE_FIELDS = "path kind id status old new title fields links paragraphs problem";

  // Server-sent commits from /events (every branch when branch is null).
  function listen(branch, onCommit) {
    const query = new URLSearchParams();
    if (branch) {
      query.set("branch", branch);
    }
    if (token()) {
      query.set("access_token", token());
    }
    const source = new EventSource("../events?" + query.toString());
    let pending = null;
    source.addEventListener("commit", (event) => {
      const commit = JSON.parse(event.data);
      // Several commits in a row: one update, for the last.
      clearTimeout(pending);
      pending = setTimeout(() => onCommit(commit), 100);
    });
    return source;
  }

  return {
    CHANGE_FIELDS,
    element,
    getJSON,
    graphql,
    h,
    inline,
    listen,
    pageURL,
    paragraphs,
    renderChanges,
    renderMarkdown,
    block,
    setStatus,
    setToken,
    token,
    when,
  };
})();
