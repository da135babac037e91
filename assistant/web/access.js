// Access keys. A server started with UNGP_API_KEY answers 401 to any API call without
// "Authorization: Bearer <key>"; only the page itself (/, /static/) is open. apiFetch, used by every API
// call of app.js and letters.js, sends the key the user gave and, on a 401, asks for it with the key form
// and tries again. The key is kept in sessionStorage, so closing the tab forgets it.
// A link cannot send a header, so links to the API (marked data-api-link: the PDFs, the Markdown download)
// are fetched with the key when one is set, and opened or saved from a blob: URL; without a key they stay
// plain links. Runs before app.js; uses its showStatus, detailOf and UNREACHABLE when a link fails.
"use strict";

const KEY_STORAGE = "ungp.key";
const NEEDS_KEY = "This server needs an access key";
const KEY_REFUSED = "That key was refused";
const BLOB_LIFETIME_MS = 60_000; // long enough for the new tab to read the PDF

class Unreachable extends Error {}
class KeyDeclined extends Error {
  constructor() { super(`${NEEDS_KEY}; nothing was sent without it.`); }
}

function readKey() {
  try { return sessionStorage.getItem(KEY_STORAGE); } catch (error) { return null; }
}

// The key lives in memory too, so a browser that refuses storage still works for as long as the page is open.
const keyState = { key: readKey(), waiting: null, settle: null, returnTo: null };

function storeKey(key) {
  keyState.key = key;
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch (error) {
    // private browsing may refuse storage: the key then lasts as long as the page
  }
}

// fetch, with the key when one is set. A 401 opens the key form and, once a key is given, sends the
// same request again (a refused key clears the stored one and asks again). Throws Unreachable when the
// server cannot be reached and KeyDeclined when the user cancels the form.
async function apiFetch(url, options = {}) {
  for (;;) {
    const sent = keyState.key;
    const headers = new Headers(options.headers || {});
    if (sent) headers.set("Authorization", `Bearer ${sent}`);
    let response;
    try {
      response = await fetch(url, { ...options, headers });
    } catch (error) {
      throw new Unreachable();
    }
    if (response.status !== 401) return response;
    if (keyState.key && keyState.key !== sent) continue; // a key arrived while this request was out
    if (sent) storeKey(null);
    await askForKey(sent ? KEY_REFUSED : NEEDS_KEY);
  }
}

// Show the key form (once, however many requests wait for it) and resolve when a key is entered.
function askForKey(message) {
  const form = document.getElementById("key-form");
  const input = document.getElementById("key-input");
  if (!keyState.waiting) {
    keyState.returnTo = document.activeElement;
    keyState.waiting = new Promise((resolve, reject) => { keyState.settle = { resolve, reject }; });
  }
  document.getElementById("key-message").textContent = message;
  input.setAttribute("aria-invalid", message === KEY_REFUSED ? "true" : "false");
  input.value = "";
  form.hidden = false;
  input.focus();
  return keyState.waiting;
}

function closeKeyForm() {
  const settle = keyState.settle;
  const back = keyState.returnTo;
  keyState.waiting = null;
  keyState.settle = null;
  keyState.returnTo = null;
  document.getElementById("key-input").value = "";
  document.getElementById("key-form").hidden = true;
  // back to where the user was (the question box, a link), unless that has gone from the page
  if (back && back !== document.body && back.isConnected && back.getClientRects().length) back.focus();
  return settle;
}

function useKey(event) {
  event.preventDefault();
  const input = document.getElementById("key-input");
  const key = input.value.trim();
  if (!key) {
    document.getElementById("key-message").textContent = `${NEEDS_KEY}: type it in the box first`;
    input.focus();
    return;
  }
  storeKey(key);
  const settle = closeKeyForm();
  if (settle) settle.resolve();
}

function declineKey() {
  const settle = closeKeyForm();
  if (settle) settle.reject(new KeyDeclined());
}

// -- links to the API, when a key is set ----------------------------------------------------------------
function failedLink(what, error) {
  if (error instanceof Unreachable) showStatus(UNREACHABLE(""));
  else if (error instanceof KeyDeclined) showStatus(error.message);
  else showStatus(`The ${what} could not be opened: ${error.message}`);
}

async function fetchBlob(link) {
  const url = new URL(link.href);
  const response = await apiFetch(url.pathname + url.search);
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch (error) { body = null; }
    throw new Error(detailOf(body, response.status));
  }
  return { blob: await response.blob(), hash: url.hash };
}

// A PDF in a new tab: Chromium's viewer honours #page=N on a blob: URL as on the file's own address.
async function openWithKey(link) {
  // open the tab now, while the click still counts as the user's, so no popup blocker stops it
  const tab = window.open("", "_blank");
  if (tab) {
    tab.opener = null;
    tab.document.title = "Opening the PDF…";
    tab.document.body.textContent = "Opening the PDF…";
  }
  let file;
  try {
    file = await fetchBlob(link);
  } catch (error) {
    if (tab) tab.close();
    failedLink("PDF", error);
    return;
  }
  const address = URL.createObjectURL(file.blob);
  if (tab) tab.location.href = address + file.hash;
  else location.assign(address + file.hash); // the browser refused a new tab: open it here
  setTimeout(() => URL.revokeObjectURL(address), BLOB_LIFETIME_MS);
}

async function downloadWithKey(link) {
  let file;
  try {
    file = await fetchBlob(link);
  } catch (error) {
    failedLink("file", error);
    return;
  }
  const save = document.createElement("a");
  save.href = URL.createObjectURL(file.blob);
  save.download = link.getAttribute("download") || "";
  save.click();
  setTimeout(() => URL.revokeObjectURL(save.href), BLOB_LIFETIME_MS);
}

function followWithKey(event) {
  const link = event.target.closest && event.target.closest("a[data-api-link]");
  if (!link || !keyState.key || event.defaultPrevented) return;
  if (event.type === "auxclick" && event.button !== 1) return; // the middle button opens a tab
  event.preventDefault();
  if (link.hasAttribute("download")) downloadWithKey(link);
  else openWithKey(link);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("key-form").addEventListener("submit", useKey);
  document.getElementById("key-cancel").addEventListener("click", declineKey);
  document.getElementById("key-form").addEventListener("keydown", (event) => {
    if (event.key === "Escape") declineKey();
  });
  document.addEventListener("click", followWithKey);
  document.addEventListener("auxclick", followWithKey);
});
