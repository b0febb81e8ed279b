// The local agent inbox. Every value from the API is untrusted (customers typed most of it)
// and is put into the page with text nodes only: never parsed as markup, never attribute handlers
// built from data. The server sends plain text, so "<" stays "<" and nothing is decoded.
// Agents log in with an account (`python -m bot agents add NAME`); the session is an HttpOnly
// cookie this script never sees, and every state-changing call sends the CSRF token from
// /inbox/api/session in the X-CSRF-Token header as JSON (the server refuses anything else).
"use strict";
const drafts = {};
const saved = {};  // handoff id -> {query, replies, pick, nonce}: the saved-reply preview (saved replies below)
let csrf = null;
let timer = null;
const $ = (id) => document.getElementById(id);

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

async function post(path, body) {
  const headers = {"content-type": "application/json"};
  if (csrf) headers["x-csrf-token"] = csrf;
  return fetch(path, {method: "POST", headers, body: JSON.stringify(body || {}), credentials: "same-origin"});
}

async function problem(response) {
  try { return (await response.json()).error || response.statusText; } catch { return response.statusText; }
}

function showLogin(message) {
  csrf = null;
  if (timer) { clearInterval(timer); timer = null; }
  $("inbox").hidden = true; $("who").hidden = true; $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-name").focus();
}

function showInbox(session) {
  csrf = session.csrf;
  $("agent").textContent = session.agent;
  $("login").hidden = true; $("inbox").hidden = false; $("who").hidden = false;
  const setup = $("first-run");
  if (setup) setup.hidden = true;
  refresh();
  if (!timer) timer = setInterval(refresh, 1000);
}

async function act(id, verb, text) {
  const response = await post(`/inbox/api/handoffs/${encodeURIComponent(id)}/${verb}`, {text});
  if (response.status === 401) return showLogin("Your session ended; log in again.");
  if (!response.ok) alert(await problem(response));
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
  const savedRow = open ? savedReplies(handoff.id) : "";
  const status = String(handoff.status);
  return el("section", {class: "card", id: `handoff-${Number(handoff.id)}`, "data-id": String(handoff.id)},
    el("h2", {}, `#${handoff.id} `, el("span", {class: "status " + status.replace(/[^a-z_]/g, "")}, status.replace("_", " ")),
      " ", handoff.card_text),
    facts, el("div", {class: "hint"}, "Conversation so far"), transcript,
    el("div", {class: "hint"}, "Since the handoff"), thread, actions, savedRow);
}

// --- saved replies (bot/handoff/desks/inbox/saved_replies.py): search, preview, Send once -----

async function findSaved(id, query) {
  const url = `/inbox/api/handoffs/${encodeURIComponent(id)}/saved-replies?q=${encodeURIComponent(query)}`;
  const response = await fetch(url, {credentials: "same-origin"});
  if (response.status === 401) return showLogin("Your session ended; log in again.");
  if (!response.ok) return alert(await problem(response));
  const nonce = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
  saved[id] = {query, replies: (await response.json()).replies, pick: 0, nonce};
  refresh(true);
}

async function sendSaved(id) {
  const state = saved[id];
  const reply = state && state.replies[state.pick];
  if (!reply) return;
  const response = await post(`/inbox/api/handoffs/${encodeURIComponent(id)}/saved-reply`,
    {reply: reply.id, order: reply.order, nonce: state.nonce});
  if (response.status === 401) return showLogin("Your session ended; log in again.");
  if (!response.ok) alert(await problem(response));
  delete saved[id];
  refresh(true);
}

function savedReplies(id) {
  const state = saved[id];
  const search = el("input", {placeholder: "Find a saved reply (e.g. tracking)", class: "saved-search"});
  search.value = state ? state.query : "";
  const row = el("div", {class: "actions saved"}, search,
    el("button", {onclick: () => findSaved(id, search.value)}, "Find saved reply"));
  if (!state) return row;
  const box = el("div", {class: "saved-preview"});
  if (!state.replies.length) box.append(el("div", {class: "hint"}, "No saved reply matches."));
  else {
    const menu = el("select", {});
    state.replies.forEach((reply, index) => menu.append(el("option", {value: String(index)}, reply.title)));
    menu.value = String(state.pick);
    menu.onchange = () => { state.pick = Number(menu.value); refresh(true); };
    const reply = state.replies[state.pick];
    box.append(menu, el("div", {class: "hint"}, "Preview — only you see this until you send it:"));
    if (reply.text !== null) box.append(el("div", {class: "line"}, reply.text),
      el("button", {class: "primary", onclick: () => sendSaved(id)}, "Send saved reply"));
    else for (const line of reply.problems) box.append(el("div", {class: "line notice"}, "Can't send: " + line));
  }
  box.append(el("button", {onclick: () => { delete saved[id]; refresh(true); }}, "Cancel"));
  return el("div", {}, row, box);
}

async function refresh(force) {
  const typing = document.activeElement && ["TEXTAREA", "INPUT", "SELECT"].includes(document.activeElement.tagName);
  if (typing && force !== true) return;
  const response = await fetch("/inbox/api/handoffs", {credentials: "same-origin"});
  if (response.status === 401) return showLogin("Your session ended; log in again.");
  if (!response.ok) return;
  const {handoffs} = await response.json();
  if (!handoffs.length) return;
  $("list").replaceChildren(...handoffs.map(render));
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await post("/inbox/api/login", {name: $("login-name").value, password: $("login-password").value});
  $("login-password").value = "";
  if (!response.ok) return showLogin(await problem(response));
  showInbox(await response.json());
});

$("logout").addEventListener("click", async () => {
  await post("/inbox/api/logout", {});
  showLogin("Logged out.");
});

async function start() {
  const response = await fetch("/inbox/api/session", {credentials: "same-origin"});
  if (response.ok) showInbox(await response.json());
  else showLogin();
}
start();
