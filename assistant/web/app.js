// The chat page: sends questions to POST /chat/stream, renders the streamed answer, and turns its [n]
// markers into buttons that show the quote, document, reference, page and principles of each source.
// Plain JavaScript, no build step, no third-party code: the page works offline. Every API call goes
// through apiFetch (access.js), which sends the access key when the server wants one.
"use strict";

const STORAGE_KEY = "ungp.conversation";
const MARKER = /\[(\d+)\]/g;

const $ = (selector) => document.querySelector(selector);
const state = { conversationId: localStorage.getItem(STORAGE_KEY), busy: false, turns: 0 };

// -- views: the hash names one (#chat, #letters) and may add a path (#letters/AL-OTH-170-2021) ---------
function showView(hash) {
  const [name, ...rest] = hash.split("/");
  const sections = document.querySelectorAll("[data-view]");
  const known = Array.from(sections).some((s) => s.dataset.view === name);
  const view = known ? name : "chat";
  sections.forEach((section) => { section.hidden = section.dataset.view !== view; });
  document.querySelectorAll("[data-view-link]").forEach((link) => {
    if (link.dataset.viewLink === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  });
  const shown = document.querySelector(`[data-view="${view}"]`);
  $(".skip-link").textContent = shown.dataset.skipLabel;
  const path = known ? rest.join("/") : "";
  document.dispatchEvent(new CustomEvent("ungp:view", { detail: { view, path } }));
}

// The skip link leads to the main control of the view on screen (each view names it in data-skip);
// focusing it directly keeps the hash, which names the view, as it is.
function skipToView(event) {
  const shown = document.querySelector("[data-view]:not([hidden])");
  const target = shown && document.querySelector(shown.dataset.skip);
  if (!target) return;
  event.preventDefault();
  target.focus();
}

// -- small DOM helpers --------------------------------------------------------------------------------
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showStatus(message) {
  const status = $("#status");
  status.textContent = message;
  status.hidden = !message;
}

function setBusy(busy) {
  state.busy = busy;
  $("#send").disabled = busy;
  $("#send").textContent = busy ? "Answering…" : "Ask";
  $("#log").setAttribute("aria-busy", busy ? "true" : "false");
}

function rememberConversation(id) {
  state.conversationId = id;
  if (id) localStorage.setItem(STORAGE_KEY, id);
  else localStorage.removeItem(STORAGE_KEY);
}

function documentLink(citation) {
  const name = citation.document.split("/").map(encodeURIComponent).join("/");
  return `/documents/${name}/file#page=${citation.page}`;
}

function principlesText(numbers) {
  if (!numbers || numbers.length === 0) return "none named";
  return numbers.map((n) => `Guiding Principle ${n}`).join(", ");
}

// -- rendering a turn ---------------------------------------------------------------------------------
function addTurn(message) {
  state.turns += 1;
  $("#intro").hidden = true;
  const item = el("li", "turn");
  item.id = `turn-${state.turns}`;
  const question = el("div", "question");
  question.append(el("p", "question-text", message));
  const answer = el("div", "answer streaming");
  answer.setAttribute("aria-label", "Answer");
  const text = el("p", "answer-text");
  answer.append(text);
  item.append(question, answer);
  $("#log").append(item);
  item.scrollIntoView({ block: "end", behavior: "smooth" });
  return { item, question, answer, text, raw: "", key: state.turns };
}

function appendText(turn, piece) {
  turn.raw += piece;
  turn.text.textContent = turn.raw;
}

// Replace the plain text by text + one button per [n] marker that has a citation.
function renderAnswer(turn, reply) {
  const byId = new Map((reply.citations || []).map((c) => [c.id, c]));
  const panel = el("div", "source");
  panel.id = `source-${turn.key}`;
  panel.hidden = true;
  panel.setAttribute("role", "region");
  panel.tabIndex = -1;
  const text = el("p", "answer-text");
  let last = 0;
  for (const match of reply.answer.matchAll(MARKER)) {
    text.append(document.createTextNode(reply.answer.slice(last, match.index)));
    const citation = byId.get(Number(match[1]));
    if (citation) {
      const button = el("button", "cite", `[${citation.id}]`);
      button.type = "button";
      button.dataset.cite = String(citation.id);
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", panel.id);
      button.setAttribute("aria-label", `Source ${citation.id}: ${citation.reference || citation.document}, page ${citation.page}`);
      button.addEventListener("click", () => toggleSource(turn, panel, button, citation));
      text.append(button);
    } else {
      text.append(document.createTextNode(match[0]));
    }
    last = match.index + match[0].length;
  }
  text.append(document.createTextNode(reply.answer.slice(last)));
  turn.text.replaceWith(text);
  turn.text = text;
  turn.answer.classList.remove("streaming");
  turn.answer.classList.toggle("refusal", !reply.grounded);
  if (!reply.grounded) {
    turn.answer.prepend(el("p", "badge", "Not supported by the letters"));
  }
  if (reply.resolved_question && reply.resolved_question.trim() !== turn.item.querySelector(".question-text").textContent.trim()) {
    turn.question.append(el("p", "resolved", `Read as: ${reply.resolved_question}`));
  }
  if (reply.mode && reply.mode.startsWith("llm:")) {
    turn.answer.append(el("p", "mode", `Written by ${reply.mode.slice(4)}; every citation was checked against its passage.`));
  }
  if (reply.note) {
    turn.answer.append(el("p", "note", reply.note));
  }
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeSource(turn, panel, true);
  });
  turn.answer.append(panel);
}

function toggleSource(turn, panel, button, citation) {
  if (button.getAttribute("aria-expanded") === "true") {
    closeSource(turn, panel, false);
    return;
  }
  turn.answer.querySelectorAll(".cite").forEach((b) => b.setAttribute("aria-expanded", "false"));
  button.setAttribute("aria-expanded", "true");
  panel.replaceChildren();
  panel.setAttribute("aria-label", `Source ${citation.id}`);
  panel.append(el("h3", "source-title", `Source [${citation.id}]`));
  const quote = el("blockquote", "quote", citation.quote);
  panel.append(quote);
  const facts = el("dl", "facts");
  const rows = [
    ["Document", citation.document],
    ["Reference", citation.reference || "—"],
    ["Page", String(citation.page)],
    ["Principles", principlesText(citation.principles)],
  ];
  for (const [term, value] of rows) {
    const row = el("div", "fact");
    row.append(el("dt", "", term), el("dd", `fact-${term.toLowerCase()}`, value));
    facts.append(row);
  }
  panel.append(facts);
  const link = el("a", "open-document", `Open the document at page ${citation.page}`);
  link.href = documentLink(citation);
  link.target = "_blank";
  link.rel = "noopener";
  link.dataset.apiLink = "";
  panel.append(link);
  const close = el("button", "plain close", "Close");
  close.type = "button";
  close.addEventListener("click", () => closeSource(turn, panel, true));
  panel.append(close);
  panel.hidden = false;
  panel.dataset.cite = String(citation.id);
  panel.focus(); // read the source next; Escape or Close returns to the marker
}

function closeSource(turn, panel, returnFocus) {
  const open = turn.answer.querySelector('.cite[aria-expanded="true"]');
  panel.hidden = true;
  turn.answer.querySelectorAll(".cite").forEach((b) => b.setAttribute("aria-expanded", "false"));
  if (returnFocus && open) open.focus();
}

function failTurn(turn, message) {
  turn.answer.classList.remove("streaming");
  turn.answer.classList.add("failed");
  if (!turn.raw) turn.text.textContent = "No answer.";
  turn.answer.append(el("p", "note", message));
}

// -- talking to the server ----------------------------------------------------------------------------
const UNREACHABLE = (after = "; your question is still in the box") =>
  `Cannot reach the assistant server at ${location.origin}. Check that it is running (make serve, or ungp serve) and try again${after}.`;

function detailOf(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return `the server answered HTTP ${status}`;
}

// Parse a text/event-stream body read with fetch + ReadableStream; call onEvent(name, data) per event.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let boundary;
    while ((boundary = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let name = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

async function ask(message, retried = false) {
  const turn = addTurn(message);
  let response;
  try {
    response = await apiFetch("/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ message, conversation_id: state.conversationId || null }),
    });
  } catch (error) {
    // not sent (no server, or no key): the question stays in the box for another try
    turn.item.remove();
    state.turns -= 1;
    throw error;
  }
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    if (response.status === 404 && state.conversationId && !retried) {
      // the server no longer keeps this conversation: start a new one with the same question
      turn.item.remove();
      state.turns -= 1;
      rememberConversation(null);
      showStatus("The earlier conversation is no longer stored on the server, so this question starts a new one.");
      return ask(message, true);
    }
    failTurn(turn, detailOf(body, response.status));
    return false;
  }
  let reply = null;
  let citations = [];
  let streamError = null;
  try {
    await readEvents(response, (name, data) => {
      if (name === "text") appendText(turn, data.text);
      else if (name === "citations") citations = data.citations;
      else if (name === "done") reply = { ...data, citations };
      else if (name === "error") streamError = data.detail;
    });
  } catch (error) {
    streamError = "the connection to the server was lost while the answer was streaming";
  }
  if (!reply) {
    failTurn(turn, `The answer was cut off: ${streamError || "the stream ended early"}. Try again.`);
    return false;
  }
  rememberConversation(reply.conversation_id);
  renderAnswer(turn, reply);
  $("#announce").textContent = reply.grounded ? "Answer ready." : "The letters do not support an answer.";
  return true;
}

async function submit(message) {
  message = message.trim();
  if (!message || state.busy) return;
  showStatus("");
  setBusy(true);
  try {
    const answered = await ask(message);
    if (answered) $("#message").value = "";
  } catch (error) {
    if (error instanceof Unreachable) showStatus(UNREACHABLE());
    else if (error instanceof KeyDeclined) showStatus(`${error.message} Your question is still in the box.`);
    else showStatus(`Something went wrong: ${error.message}`);
  } finally {
    setBusy(false);
    $("#message").focus();
  }
}

async function restore() {
  if (!state.conversationId) return;
  let response;
  try {
    response = await apiFetch(`/chat/${encodeURIComponent(state.conversationId)}`);
  } catch (error) {
    if (error instanceof Unreachable) showStatus(UNREACHABLE());
    return; // without the key the conversation stays stored, to be shown once a key is given
  }
  if (!response.ok) {
    rememberConversation(null);
    return;
  }
  const body = await response.json();
  for (const stored of body.turns) {
    const turn = addTurn(stored.message);
    turn.raw = stored.answer.answer;
    renderAnswer(turn, { ...stored.answer, resolved_question: stored.resolved_question });
  }
}

function newConversation() {
  const id = state.conversationId;
  rememberConversation(null);
  $("#log").replaceChildren();
  state.turns = 0;
  $("#intro").hidden = false;
  showStatus("");
  $("#message").focus();
  if (id) apiFetch(`/chat/${encodeURIComponent(id)}`, { method: "DELETE" }).catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  const box = $("#message");
  $("#ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submit(box.value);
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit(box.value);
    }
  });
  document.querySelectorAll(".example").forEach((button) => {
    button.addEventListener("click", () => {
      box.value = button.textContent;
      submit(button.textContent);
    });
  });
  $("#new-chat").addEventListener("click", newConversation);
  $(".skip-link").addEventListener("click", skipToView);
  window.addEventListener("hashchange", () => showView(location.hash.slice(1)));
  showView(location.hash.slice(1) || "chat");
  restore();
});
