// The helpdesk's user table: a page at a time (previous / next, by the server's cursor), a
// username prefix search, and creating a user (admin role).

import { ADMIN, withQuery } from "./api.js";
import { $, el, clear, showStatus, showError, timeEl } from "./ui.js";
import { PAGE_SIZE, call, run, isAdmin } from "./helpdesk-core.js";

const list = {
  query: "",
  /** The cursors of the pages shown so far: [undefined, next of page 1, …]. */
  cursors: [undefined],
  page: 0,
  next: null,
  generation: 0,
  open: null,
};

let onOpen = () => {};

/** `fn(username, status)` opens a user's details (then shows `status`, if any). */
export function setOnOpen(fn) {
  onOpen = fn;
}

export function setOpenUser(username) {
  list.open = username;
  for (const tr of $("users").tBodies[0].rows) {
    tr.classList.toggle("is-open", tr.dataset.username === username);
  }
}

/** A new search from the first page. */
export async function search(query) {
  list.query = query;
  list.cursors = [undefined];
  list.page = 0;
  await loadPage();
}

/** The page shown, read again (after a change). */
export const reload = () => loadPage();

async function loadPage() {
  list.generation += 1;
  const generation = list.generation;
  const path = withQuery(`${ADMIN}/users`, {
    "filter[username]": list.query,
    "page[size]": PAGE_SIZE,
    "page[after]": list.cursors[list.page],
  });
  const doc = await call("GET", path);
  if (generation !== list.generation) return;
  const users = Array.isArray(doc.data) ? doc.data : [];
  const body = $("users").tBodies[0];
  clear(body);
  for (const user of users) body.append(userRow(user));
  list.next = doc.meta?.page?.next ?? null;
  $("users").hidden = users.length === 0;
  $("users-empty").hidden = users.length > 0;
  $("users-empty").textContent = list.page > 0 ? "No more users." : "No users match this search.";
  $("users-prev").disabled = list.page === 0;
  $("users-next").disabled = !list.next;
  $("users-paging").hidden = list.page === 0 && !list.next;
  $("users-page").textContent = `Page ${list.page + 1}`;
  return users.length;
}

function userRow(user) {
  const a = user.attributes || {};
  const username = a.username || user.id;
  const open = el("button", {
    class: "open secondary small",
    type: "button",
    text: "Open",
    attrs: { "aria-label": `Open ${username}` },
  });
  open.addEventListener("click", () => onOpen(username));
  const count = a.credentialCount ?? 0;
  const cell = (cls, label, ...content) => el("td", { class: cls, attrs: { "data-label": label } }, ...content);
  return el(
    "tr",
    { class: `user${username === list.open ? " is-open" : ""}`, dataset: { username } },
    el("th", { class: "user-name", text: username, attrs: { scope: "row", "data-label": "Username" } }),
    cell("display-name", "Display name", a.displayName || "—"),
    cell("passkeys", "Passkeys", String(count)),
    cell(
      "locked",
      "Locked",
      el("span", { class: `badge ${a.locked ? "danger" : "ok"}`, text: a.locked ? "Locked" : "No" }),
    ),
    cell("created", "Created", timeEl(a.createdAt)),
    cell("actions", "", open),
  );
}

/** Keeps the row of `user` in step with what was just read of it. */
export function updateRow(user) {
  const username = user?.attributes?.username || user?.id;
  const tr = [...$("users").tBodies[0].rows].find((x) => x.dataset.username === username);
  if (tr) tr.replaceWith(userRow(user));
}

function onSearch(event) {
  event.preventDefault();
  run(async () => {
    const count = await search($("search").value.trim().toLowerCase());
    showStatus(count === 0 ? "No users found." : `${count}${list.next ? "+" : ""} user${count === 1 ? "" : "s"} found.`);
  });
}

function onNext() {
  if (!list.next) return;
  run(async () => {
    list.cursors[list.page + 1] = list.next;
    list.page += 1;
    await loadPage();
    $("users-page").focus();
  });
}

function onPrevious() {
  if (list.page === 0) return;
  run(async () => {
    list.page -= 1;
    await loadPage();
    $("users-page").focus();
  });
}

// ---- create a user (admin) ----

async function onCreate(event) {
  event.preventDefault();
  if (!isAdmin()) return;
  const username = $("new-username").value.trim();
  const displayName = $("new-display-name").value.trim();
  const password = $("new-password").value;
  if (!username) {
    showError("Enter a username for the new user.");
    $("new-username").focus();
    return;
  }
  let created = null;
  await run(async () => {
    const body = { username };
    if (displayName) body.displayName = displayName;
    if (password) body.password = password;
    const doc = await call("POST", `${ADMIN}/users`, body);
    created = doc.data?.attributes?.username || username;
    $("create-user-form").reset();
    $("search").value = created;
    await search(created);
  });
  if (created) onOpen(created, `User ${created} was created.`);
}

/** Enables or disables what needs the admin role, saying why. */
export function applyRole() {
  const admin = isAdmin();
  for (const id of ["new-username", "new-display-name", "new-password", "create-user"]) {
    $(id).disabled = !admin;
  }
  $("create-user-reason").hidden = admin;
}

export function init() {
  $("search-form").addEventListener("submit", onSearch);
  $("users-next").addEventListener("click", onNext);
  $("users-prev").addEventListener("click", onPrevious);
  $("create-user-form").addEventListener("submit", onCreate);
}
