// The local agent inbox. Every value from the API is untrusted (customers typed most of it)
// and is put into the page with text nodes only: never parsed as markup, never attribute handlers
// built from data. The server sends plain text, so "<" stays "<" and nothing is decoded.
"use strict";
const agentInput = document.getElementById("agent");
agentInput.value = localStorage.getItem("agent") || "";
agentInput.addEventListener("change", () => localStorage.setItem("agent", agentInput.value.trim()));
const drafts = {};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "onclick" || key === "oninput") node[key] = value;  // our own functions only
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

async function act(id, verb, text) {
  const agent = agentInput.value.trim();
  if (!agent) { alert("Type your name at the top first."); agentInput.focus(); return; }
  const response = await fetch(`/inbox/api/handoffs/${encodeURIComponent(id)}/${verb}`, {
    method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({agent, text}),
  });
  if (!response.ok) alert(await response.text());
  refresh();
}

function render(handoff) {
  const facts = el("dl", {class: "facts"});
  for (const fact of handoff.facts || []) facts.append(el("dt", {}, fact.label), el("dd", {}, fact.value));
  if (handoff.claimed_by) facts.append(el("dt", {}, "Claimed by"), el("dd", {}, handoff.claimed_by));
  const transcript = el("div", {class: "transcript"});
  for (const line of (handoff.transcript || []).slice(-12)) {
    transcript.append(el("div", {class: "line"},
      line.time ? el("span", {class: "time"}, line.time + " ") : "",
      el("span", {class: "who"}, line.who + ": "), line.text,
      line.intent ? el("span", {class: "intent"}, "  " + line.intent) : ""));
  }
  const thread = el("div", {class: "thread"});
  for (const message of handoff.thread || []) {
    if (message.author === "notice") thread.append(el("div", {class: "line notice"}, message.text));
    else thread.append(el("div", {class: "line"},
      el("span", {class: "who"}, (message.author === "customer" ? "Customer" : message.author) + ": "), message.text));
  }
  const draft = el("textarea", {placeholder: "Reply to the customer (// for an internal note)"});
  draft.value = drafts[handoff.id] || "";
  draft.oninput = () => { drafts[handoff.id] = draft.value; };
  const open = handoff.status !== "resolved";
  const actions = el("div", {class: "actions"});
  if (open) {
    actions.append(draft, el("button", {class: "primary", onclick: () => { const t = draft.value; drafts[handoff.id] = ""; act(handoff.id, "reply", t); }}, "Send"));
    if (handoff.status !== "claimed") actions.append(el("button", {onclick: () => act(handoff.id, "claim")}, "Claim"));
    actions.append(el("button", {onclick: () => act(handoff.id, "resolve")}, "Resolve — hand back to bot"));
  }
  const status = String(handoff.status);
  return el("section", {class: "card", "data-id": String(handoff.id)},
    el("h2", {}, `#${handoff.id} `, el("span", {class: "status " + status.replace(/[^a-z_]/g, "")}, status.replace("_", " ")),
      " ", handoff.card_text),
    facts, el("div", {class: "hint"}, "Conversation so far"), transcript,
    el("div", {class: "hint"}, "Since the handoff"), thread, actions);
}

async function refresh() {
  if (document.activeElement && document.activeElement.tagName === "TEXTAREA") return;
  const response = await fetch("/inbox/api/handoffs");
  const {handoffs} = await response.json();
  const list = document.getElementById("list");
  if (!handoffs.length) return;
  list.replaceChildren(...handoffs.map(render));
}
refresh();
setInterval(refresh, 1000);
