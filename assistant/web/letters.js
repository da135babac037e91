// The Letters view: lists the indexed letters (GET /letters) and shows a letter's response outline
// (GET /letters/{slug}/outline): header facts, deadlines, each question with the Guiding Principles it
// engages and the annex quotes behind the link, the facts alleged, and the outline as Markdown.
// Runs after access.js and app.js and uses their helpers ($, el, showStatus, documentLink, detailOf,
// UNREACHABLE, apiFetch, Unreachable, KeyDeclined). Every text from a letter goes in through textContent,
// never as HTML.
"use strict";

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
  "October", "November", "December"];
const PAGE_TITLE = "UNGP Assistant";
const lettersState = { request: 0, outline: null, lastSlug: null };

class ServerRefused extends Error {}

// -- formatting ---------------------------------------------------------------------------------------
// "2021-05-11" -> "11 May 2021", the way the letters write dates (and the Markdown outline too).
function longDate(iso) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  if (!match) return iso || null;
  return `${Number(match[3])} ${MONTHS[Number(match[2]) - 1]} ${match[1]}`;
}

function pagesText(pages) {
  if (pages.length > 1) return `pp. ${pages[0]}-${pages[pages.length - 1]}`;
  return `p. ${pages[0]}`;
}

// [13, 15, 19, 20, 22, 25, 26, ..., 31] -> "13, 15, 19-20, 22, 25-31"
function principleRanges(numbers) {
  const runs = [];
  for (const n of numbers) {
    const run = runs[runs.length - 1];
    if (run && n === run[1] + 1) run[1] = n;
    else runs.push([n, n]);
  }
  return runs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(", ");
}

function addresseeOf(letter) {
  const parts = [letter.person, letter.company].filter(Boolean);
  return parts.length ? parts.join(", ") : letter.addressee;
}

function pdfLink(document, page, text) {
  const link = el("a", "pdf-link", text || `Open the PDF at page ${page}`);
  link.href = documentLink({ document, page });
  link.target = "_blank";
  link.rel = "noopener";
  link.dataset.apiLink = "";
  return link;
}

function factList(rows) {
  const facts = el("dl", "facts");
  for (const [term, value, key, wide] of rows) {
    const row = el("div", wide ? "fact wide" : "fact");
    const dd = el("dd", key ? `fact-${key}` : "");
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value === null || value === undefined || value === "" ? "not stated" : String(value);
    row.append(el("dt", "", term), dd);
    facts.append(row);
  }
  return facts;
}

function section(title, className) {
  const part = el("section", className);
  const heading = el("h3", "", title);
  heading.id = `outline-${className}`;
  part.setAttribute("aria-labelledby", heading.id);
  part.append(heading);
  return part;
}

// -- talking to the server ----------------------------------------------------------------------------
async function getJSON(url) {
  const response = await apiFetch(url, { headers: { Accept: "application/json" } });
  let body = null;
  try { body = await response.json(); } catch (error) { body = null; }
  if (!response.ok) throw new ServerRefused(detailOf(body, response.status));
  return body;
}

function failureText(error) {
  if (error instanceof Unreachable) return UNREACHABLE("");
  if (error instanceof ServerRefused || error instanceof KeyDeclined) return error.message;
  return `Something went wrong: ${error.message}`;
}

function retryButton(label, action) {
  const button = el("button", "plain retry", label);
  button.type = "button";
  button.addEventListener("click", action);
  return button;
}

// -- the list -----------------------------------------------------------------------------------------
function showIndex() {
  $("#outline").hidden = true;
  $("#letters-index").hidden = false;
  $("#view-letters").dataset.skip = "#letters-title";
  document.title = `Letters — ${PAGE_TITLE}`;
  loadLetters();
}

async function loadLetters() {
  const request = ++lettersState.request;
  const list = $("#letters-list");
  const stateLine = $("#letters-state");
  stateLine.replaceChildren("Loading the letters…");
  list.setAttribute("aria-busy", "true");
  let body;
  try {
    body = await getJSON("/letters");
  } catch (error) {
    if (request !== lettersState.request) return;
    list.setAttribute("aria-busy", "false");
    showStatus(failureText(error));
    stateLine.replaceChildren("The list of letters could not be loaded. ", retryButton("Try again", loadLetters));
    return;
  }
  if (request !== lettersState.request) return;
  showStatus("");
  list.setAttribute("aria-busy", "false");
  list.replaceChildren(...body.letters.map(letterCard));
  if (body.letters.length === 0) {
    stateLine.textContent = "No letter is indexed yet. Put the letters (PDF files) in the corpus folder and run "
      + "“ungp ingest”, or restart the server, which indexes the corpus when it starts.";
  } else {
    const count = body.letters.length;
    stateLine.textContent = `${count} letter${count === 1 ? "" : "s"} in the index.`;
  }
  // coming back from an outline: keyboard users land on the letter they had opened
  const previous = lettersState.lastSlug && list.querySelector(`[data-slug="${CSS.escape(lettersState.lastSlug)}"]`);
  if (previous) previous.focus();
  lettersState.lastSlug = null;
}

function letterCard(letter) {
  const item = el("li", "letter-card");
  const heading = el("h3", "letter-ref");
  const link = el("a", "", letter.reference);
  link.href = `#letters/${encodeURIComponent(letter.slug)}`;
  link.dataset.slug = letter.slug;
  heading.append(link);
  item.append(heading, factList([
    ["Date", longDate(letter.date), "date"],
    ["Addressee", addresseeOf(letter), "addressee"],
    ["Questions", letter.question_count, "questions"],
    ["Made public", longDate(letter.publication_date), "published"],
  ]));
  return item;
}

// -- one outline --------------------------------------------------------------------------------------
async function openOutline(reference) {
  const request = ++lettersState.request;
  $("#letters-index").hidden = true;
  $("#outline").hidden = false;
  $("#view-letters").dataset.skip = "#outline-title";
  $("#outline-actions").hidden = true;
  $("#copy-fallback").hidden = true;
  $("#copy-status").textContent = "";
  $("#outline-body").replaceChildren();
  $("#outline-title").textContent = `Response outline: ${reference}`;
  $("#outline-state").replaceChildren("Loading the outline…");
  lettersState.outline = null;
  document.title = `${reference} — Letters — ${PAGE_TITLE}`;
  let outline;
  try {
    outline = await getJSON(`/letters/${encodeURIComponent(reference)}/outline`);
  } catch (error) {
    if (request !== lettersState.request) return;
    showStatus(failureText(error));
    $("#outline-state").replaceChildren(
      "The outline could not be loaded. ", retryButton("Try again", () => openOutline(reference)));
    $("#outline-title").focus();
    return;
  }
  if (request !== lettersState.request) return;
  showStatus("");
  renderOutline(outline);
  const letter = outline.letter;
  if (reference !== letter.slug) history.replaceState(null, "", `#letters/${encodeURIComponent(letter.slug)}`);
  lettersState.outline = outline;
  lettersState.lastSlug = letter.slug;
  document.title = `${letter.reference} — Letters — ${PAGE_TITLE}`;
  $("#outline-title").focus(); // read the outline next, from its heading
}

function renderOutline(outline) {
  const letter = outline.letter;
  $("#outline-title").textContent = `Response outline: ${letter.reference}`;
  $("#outline-state").textContent = "";
  const download = $("#download-md");
  download.href = `/letters/${encodeURIComponent(letter.slug)}/outline?format=md`;
  download.setAttribute("download", `${letter.slug}-outline.md`);
  $("#outline-actions").hidden = false;
  const body = $("#outline-body");
  body.replaceChildren(letterFacts(letter));
  if (outline.notes.length) {
    const notes = el("div", "notes");
    notes.setAttribute("role", "note");
    notes.append(el("p", "notes-title", "Gaps to know about"));
    const list = el("ul");
    outline.notes.forEach((note) => list.append(el("li", "", note)));
    notes.append(list);
    body.append(notes);
  }
  body.append(deadlines(outline, letter), questions(outline, letter), allegations(outline, letter));
}

function letterFacts(letter) {
  const part = section("The letter", "letter");
  const signatories = el("ul", "plain-list");
  letter.signatories.forEach((s) => signatories.append(el("li", "", s.mandate ? `${s.name} (${s.mandate})` : s.name)));
  const also = [...letter.governments_also, ...letter.companies_also];
  if (letter.other_companies_also) also.push("other companies (not named)");
  const rows = [
    ["Reference", letter.reference, "reference"],
    ["Date", longDate(letter.date), "date"],
    ["Addressee", addresseeOf(letter), "addressee"],
    ["Made public", longDate(letter.publication_date), "published"],
  ];
  if (letter.response_date) rows.push(["Response asked by", longDate(letter.response_date), "response"]);
  rows.push(
    ["Guiding Principles quoted or cited", letter.principles.length ? principleRanges(letter.principles) : "none", "principles"],
    ["Source", pdfLink(letter.document, 1, letter.document), "source"],
    ["Signed by", letter.signatories.length ? signatories : null, "signatories", true],
    ["Also written to", also.join(", ") || "nobody named", "also", true],
  );
  part.append(factList(rows));
  return part;
}

// A titled part of the outline: one list item per entry, or a sentence saying there is none.
function listSection(title, key, entries, emptyText, listTag, renderItem) {
  const part = section(title, key);
  if (entries.length === 0) {
    part.append(el("p", "empty", emptyText));
    return part;
  }
  const list = el(listTag, `${key}-list`);
  entries.forEach((entry) => list.append(renderItem(entry)));
  part.append(list);
  return part;
}

function deadlines(outline, letter) {
  return listSection("Deadlines", "deadlines", outline.deadlines, "The letter sets no deadline.", "ul", (deadline) => {
    const item = el("li", "deadline");
    const head = el("p", "deadline-head");
    if (deadline.date) head.append(el("strong", "deadline-date", longDate(deadline.date)), ": ");
    let label = deadline.label;
    if (deadline.date && deadline.days !== null && letter.date) label += ` (${deadline.days} days after ${longDate(letter.date)})`;
    head.append(el("span", "deadline-label", label));
    item.append(head, el("blockquote", "quote", deadline.quote), pdfLink(letter.document, deadline.page));
    return item;
  });
}

function questions(outline, letter) {
  const quotedUnder = new Map(); // a quote shown in full once; later questions fold it away
  return listSection("Questions and the Guiding Principles they engage", "questions", outline.questions,
    "No numbered question was found in this letter.", "ol", (question) => {
      const item = el("li", "question-item");
      item.id = `question-${question.number}`;
      const heading = el("h4", "question-title", `Question ${question.number}`);
      heading.id = `question-${question.number}-title`;
      item.setAttribute("aria-labelledby", heading.id);
      const where = el("p", "question-where");
      where.append(`Asked on ${pagesText(question.pages)} · `, pdfLink(letter.document, question.page));
      item.append(heading, where, el("blockquote", "question-text quote", question.text));
      const engaged = el("p", "engaged");
      engaged.append(el("strong", "", "Guiding Principles engaged: "));
      engaged.append(question.principles.length
        ? el("span", "engaged-list", principleRanges(question.principles))
        : el("span", "engaged-list none", "none that the annex supports closely enough"));
      item.append(engaged);
      if (question.support.length) {
        const supports = el("ul", "support-list");
        supports.setAttribute("aria-label", `Annex passages supporting question ${question.number}`);
        for (const support of question.support) {
          supports.append(supportItem(support, letter, question.number, quotedUnder));
        }
        item.append(supports);
      }
      return item;
    });
}

function supportItem(support, letter, number, quotedUnder) {
  const item = el("li", "support");
  const head = el("p", "support-head");
  head.append(el("strong", "support-principles", `GP ${principleRanges(support.principles)}`),
    ` · annex ${pagesText([support.page])} · `, pdfLink(letter.document, support.page));
  item.append(head);
  const quote = el("blockquote", "quote", support.quote);
  const key = `${support.page}\n${support.quote}`;
  if (quotedUnder.has(key)) {
    const fold = el("details", "again");
    fold.append(el("summary", "", `The quote (shown in full under question ${quotedUnder.get(key)})`), quote);
    item.append(fold);
  } else {
    quotedUnder.set(key, number);
    item.append(quote);
  }
  return item;
}

function allegations(outline, letter) {
  return listSection("Facts alleged", "allegations", outline.allegations,
    "No paragraph setting out the facts alleged was found.", "ol", (excerpt) => {
      const item = el("li", "allegation");
      item.append(el("p", "allegation-text", excerpt.text), pdfLink(letter.document, excerpt.page));
      return item;
    });
}

// -- the outline as Markdown --------------------------------------------------------------------------
async function copyMarkdown() {
  const outline = lettersState.outline;
  if (!outline) return;
  const said = $("#copy-status");
  const fallback = $("#copy-fallback");
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard here");
    await navigator.clipboard.writeText(outline.markdown);
    fallback.hidden = true;
    said.textContent = "Copied the outline as Markdown.";
    return;
  } catch (error) {
    // the browser refused (no permission, not a secure page): select the text for the user to copy
  }
  const box = $("#copy-text");
  box.value = outline.markdown;
  fallback.hidden = false;
  box.focus();
  box.select();
  let copied = false;
  try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
  if (copied) {
    fallback.hidden = true;
    $("#copy-md").focus();
    said.textContent = "Copied the outline as Markdown.";
  } else {
    said.textContent = "The browser did not let the page copy: the Markdown is selected below, press Ctrl+C (⌘C on a Mac).";
  }
}

// -- wiring -------------------------------------------------------------------------------------------
document.addEventListener("ungp:view", (event) => {
  const { view, path } = event.detail;
  if (view !== "letters") {
    document.title = PAGE_TITLE;
    lettersState.lastSlug = null;
    return;
  }
  let reference = path;
  try { reference = decodeURIComponent(path); } catch (error) { reference = path; }
  if (reference) openOutline(reference);
  else showIndex();
});

document.addEventListener("DOMContentLoaded", () => {
  $("#copy-md").addEventListener("click", copyMarkdown);
});
