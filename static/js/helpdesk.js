// The helpdesk page: users, their authenticators (disable/enable/delete), unlocking and the audit
// trail, through /rest/admin with a bearer token that lives only in this module's memory.

import * as api from "./api.js";
import { ADMIN, ApiError, withQuery } from "./api.js";
import {
  $,
  el,
  clear,
  showError,
  showStatus,
  clearMessages,
  bindBusy,
  timeEl,
  formatWhen,
  transportsText,
  syncText,
  modelText,
  credentialIcon,
  stateText,
  friendlyError,
  confirmDialog,
} from "./ui.js";

const PAGE_SIZE = 20;

// Never written to localStorage, sessionStorage or cookies.
let token = null;

let usersNext = null;
let usersQuery = "";
let usersGeneration = 0;

let currentUser = null;
let detailGeneration = 0;
let auditNext = null;

let operation = false;

function call(method, path, body) {
  if (!token) {
    return Promise.reject(new ApiError({ code: "NO_TOKEN", detail: "enter a helpdesk token first" }));
  }
  return api.admin(token, method, path, body);
}

const userPath = (username) => `${ADMIN}/users/${encodeURIComponent(username)}`;

async function run(fn) {
  if (operation) return;
  operation = true;
  clearMessages();
  api.busyStart();
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof ApiError)) console.error(err);
    showError(friendlyError(err));
    if (err instanceof ApiError && (err.code === "NOT_AUTHENTICATED" || err.code === "NO_TOKEN")) {
      $("token").focus();
    }
  } finally {
    operation = false;
    api.busyEnd();
  }
}

// ---------------------------------------------------------------- token

function onTokenSet(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  $("token").value = "";
  if (!value) {
    token = null;
    $("token").placeholder = "";
    showError("Enter a helpdesk token.");
    $("token").focus();
    return;
  }
  token = value;
  $("token").placeholder = "Token in use — enter another to replace it";
  showStatus("Token set. Search for a user.");
  $("search").focus();
  loadMetadataStatus();
}

/** The FIDO metadata in use, fetched in the background once a token is set (a stale BLOB is
 *  flagged: the server still uses it, but a newer one should be imported). */
async function loadMetadataStatus() {
  const line = $("mds-status");
  try {
    const doc = await call("GET", `${ADMIN}/mds`);
    const m = doc?.data?.attributes || {};
    if (!m.imported) {
      line.textContent = "FIDO metadata: none imported — authenticator models are named from the built-in list.";
    } else if (m.stale) {
      line.textContent = `FIDO metadata: BLOB no. ${m.number} is STALE — its next update was due ${m.nextUpdate}. Ask an administrator to import a newer one.`;
    } else {
      line.textContent = `FIDO metadata: BLOB no. ${m.number} with ${m.entries} authenticator models, next update ${m.nextUpdate}.`;
    }
    line.classList.toggle("stale", !!m.stale);
    line.hidden = false;
  } catch (err) {
    line.hidden = true;
    if (err instanceof ApiError && err.status === 401) showError(friendlyError(err));
  }
}

// ---------------------------------------------------------------- users

function onSearch(event) {
  event.preventDefault();
  run(async () => {
    usersQuery = $("search").value.trim().toLowerCase();
    usersGeneration += 1;
    usersNext = null;
    clear($("users"));
    await loadUsers(usersGeneration);
    const count = $("users").children.length;
    showStatus(count === 0 ? "No users found." : `${count}${usersNext ? "+" : ""} user${count === 1 ? "" : "s"} found.`);
  });
}

function onUsersMore() {
  run(async () => {
    await loadUsers(usersGeneration, usersNext);
  });
}

async function loadUsers(generation, after) {
  const path = withQuery(`${ADMIN}/users`, {
    "filter[username]": usersQuery,
    "page[size]": PAGE_SIZE,
    "page[after]": after,
  });
  const doc = await call("GET", path);
  if (generation !== usersGeneration) return;
  const users = Array.isArray(doc.data) ? doc.data : [];
  for (const user of users) $("users").append(userItem(user));
  usersNext = doc.meta?.page?.next ?? null;
  $("users-more").hidden = !usersNext;
  $("users-empty").hidden = $("users").children.length > 0;
  $("users-empty").textContent = "No users match this search.";
}

function userItem(user) {
  const a = user.attributes || {};
  const username = a.username || user.id;
  const open = el("button", {
    class: "open secondary small",
    type: "button",
    text: "Open",
    attrs: { "aria-label": `Open ${username}` },
  });
  open.addEventListener("click", () => openUser(username));
  const meta = [];
  if (a.displayName) meta.push(a.displayName);
  meta.push(`${a.credentialCount ?? 0} authenticator${a.credentialCount === 1 ? "" : "s"}`);
  if (a.locked) meta.push("locked");
  return el(
    "li",
    { class: `user${username === currentUser ? " is-open" : ""}`, dataset: { username } },
    el(
      "div",
      { class: "user-main" },
      el("div", { class: "user-name", text: username }),
      el("div", { class: "user-meta", text: meta.join(" · ") }),
    ),
    open,
  );
}

// ---------------------------------------------------------------- one user

function openUser(username) {
  run(async () => {
    currentUser = username;
    detailGeneration += 1;
    for (const li of $("users").children) li.classList.toggle("is-open", li.dataset.username === username);
    await refreshDetail({ generation: detailGeneration });
    $("detail-username").focus();
  });
}

async function refreshDetail({ generation = detailGeneration, user = true, credentials = true, audit = true } = {}) {
  const username = currentUser;
  if (!username) return;
  const [userDoc, credentialsDoc, auditDoc] = await Promise.all([
    user ? call("GET", userPath(username)) : null,
    credentials ? call("GET", `${userPath(username)}/fido/credentials`) : null,
    audit ? call("GET", auditPath(username)) : null,
  ]);
  if (generation !== detailGeneration) return;
  $("user-detail").hidden = false;
  if (userDoc) renderUser(userDoc.data);
  if (credentialsDoc) renderCredentials(Array.isArray(credentialsDoc.data) ? credentialsDoc.data : []);
  if (auditDoc) {
    clear($("audit").tBodies[0]);
    appendAudit(auditDoc);
  }
}

function renderUser(user) {
  const a = user?.attributes || {};
  $("detail-username").textContent = a.username || currentUser;
  const info = [];
  if (a.displayName) info.push(a.displayName);
  info.push(a.hasPassword ? "has a password" : "passkeys only");
  if (a.createdAt) info.push(`created ${formatWhen(a.createdAt)}`);
  $("detail-info").textContent = info.join(" · ");
  const locked = $("detail-locked");
  if (a.locked) {
    const until = formatWhen(a.lockExpiry);
    locked.textContent = until ? `Locked until ${until.replace(/^(at|on) /, "")}` : "Locked";
    locked.className = "badge danger";
  } else {
    locked.textContent = "Not locked";
    locked.className = "badge ok";
  }
  locked.dataset.locked = a.locked ? "true" : "false";
  // Keep the list entry in step with what we just read.
  const li = [...$("users").children].find((x) => x.dataset.username === currentUser);
  if (li) li.replaceWith(userItem(user));
}

function metaRow(label, cls, value, extraClass = "") {
  return el(
    "div",
    { class: "meta-row" },
    el("dt", { text: label }),
    el("dd", { class: `${cls}${extraClass ? ` ${extraClass}` : ""}` }, value),
  );
}

function yesNo(value) {
  if (value === true) return "Yes";
  if (value === false) return "No";
  return "Unknown";
}

function renderCredentials(credentials) {
  const list = $("user-credentials");
  clear(list);
  $("user-credentials-empty").hidden = credentials.length > 0;
  credentials.forEach((credential, index) => list.append(credentialItem(credential, index)));
}

function credentialItem(credential, index) {
  const a = credential.attributes || {};
  const nameId = `user-credential-name-${index}`;
  const name = a.displayName || a.authenticatorName || "Unnamed authenticator";
  const describe = { "aria-describedby": nameId };
  const toggle = el("button", {
    class: "toggle secondary small",
    type: "button",
    text: a.enabled ? "Disable" : "Enable",
    attrs: describe,
  });
  const remove = el("button", { class: "delete danger-outline small", type: "button", text: "Delete", attrs: describe });
  toggle.addEventListener("click", () => onToggle(credential));
  remove.addEventListener("click", () => onDelete(credential));
  const state =
    a.enabled ? "Enabled" : a.disabledBy === "user" ? "Disabled by the user" : stateText(a);
  return el(
    "li",
    { class: `credential${a.enabled ? "" : " is-disabled"}`, dataset: { id: credential.id } },
    credentialIcon(a, "icon-passkey"),
    el(
      "div",
      { class: "credential-body" },
      el(
        "div",
        { class: "credential-title" },
        el("h4", { class: "name", text: name, attrs: { id: nameId } }),
        el("span", { class: `state badge ${a.enabled ? "ok" : "off"}`, text: state }),
      ),
      el("p", { class: "model", text: modelText(a) }),
      el(
        "dl",
        { class: "meta" },
        metaRow("Added", "created", timeEl(a.createdAt)),
        metaRow("Last used", "last-used", timeEl(a.lastUsedAt, { fallback: "Never" })),
        metaRow("Sync", "sync", syncText(a)),
        metaRow("Connects by", "transports", transportsText(a.transports)),
        metaRow("Attestation", "format", `${a.attestationFormat || "none"}${a.attestationTrusted ? " (trusted)" : " (not verified)"}`),
        metaRow("Algorithm", "algorithm", a.algorithmName || "—"),
        metaRow("Sign counter", "sign-count", String(a.signCount ?? 0)),
        metaRow("Discoverable", "discoverable", yesNo(a.discoverable)),
        metaRow("User verified", "user-verified", yesNo(a.userVerified)),
        metaRow("AAGUID", "aaguid", a.aaguid || "—", "mono"),
        metaRow("Credential ID", "credential-id", credential.id, "mono"),
      ),
    ),
    el("div", { class: "credential-actions" }, toggle, remove),
  );
}

function credentialName(credential) {
  const a = credential.attributes || {};
  return a.displayName || a.authenticatorName || "this authenticator";
}

function focusCredentialButton(id, cls) {
  const li = [...$("user-credentials").children].find((x) => x.dataset.id === id);
  (li?.querySelector(`button.${cls}`) || $("detail-username")).focus();
}

async function onToggle(credential) {
  if (operation) return;
  const enabled = !!credential.attributes?.enabled;
  const name = credentialName(credential);
  const user = currentUser;
  // Disabling signs the user out everywhere: ask first. Enabling is harmless.
  if (enabled) {
    const ok = await confirmDialog({
      title: `Disable “${name}”?`,
      text: `${user} will not be able to sign in with “${name}” until it is enabled again, and will be signed out everywhere now.`,
      ok: "Disable",
      danger: true,
    });
    if (!ok) return;
  }
  run(async () => {
    await call("PATCH", `${userPath(user)}/fido/credentials/${encodeURIComponent(credential.id)}`, {
      enabled: !enabled,
    });
    await refreshDetail();
    focusCredentialButton(credential.id, "toggle");
    showStatus(
      enabled
        ? `“${name}” is disabled; ${user} was signed out everywhere.`
        : `“${name}” is enabled again.`,
    );
  });
}

async function onDelete(credential) {
  if (operation) return;
  const name = credentialName(credential);
  const user = currentUser;
  const ok = await confirmDialog({
    title: `Delete “${name}”?`,
    text: `${user} will no longer be able to sign in with “${name}”, and will be signed out everywhere. This can't be undone.`,
    ok: "Delete",
    danger: true,
  });
  if (!ok) return;
  run(async () => {
    await call("DELETE", `${userPath(user)}/fido/credentials/${encodeURIComponent(credential.id)}`);
    await refreshDetail();
    $("detail-username").focus();
    showStatus(`“${name}” was deleted.`);
  });
}

function onUnlock() {
  run(async () => {
    const user = currentUser;
    await call("POST", `${userPath(user)}/unlock`, {});
    await refreshDetail({ credentials: false });
    showStatus(`${user} is unlocked; failed attempts were reset.`);
  });
}

// ---------------------------------------------------------------- audit

function auditPath(username, after) {
  return withQuery(`${ADMIN}/audit`, { username, "page[size]": PAGE_SIZE, "page[after]": after });
}

function cell(cls, label, ...content) {
  return el("td", { class: cls, attrs: { "data-label": label } }, ...content);
}

function appendAudit(doc) {
  const body = $("audit").tBodies[0];
  const events = Array.isArray(doc.data) ? doc.data : [];
  for (const event of events) {
    const a = event.attributes || {};
    const outcome = a.outcome === "success" ? "Success" : a.outcome === "failure" ? "Failure" : a.outcome || "";
    body.append(
      el(
        "tr",
        { class: "event", dataset: { id: event.id } },
        cell("time", "Time", timeEl(a.time, { precise: true })),
        cell("event", "Event", a.event || ""),
        cell("actor", "Actor", a.actor || ""),
        cell("outcome", "Outcome", el("span", { class: `outcome-${a.outcome}`, text: outcome })),
        cell(
          "detail",
          "Detail",
          a.detail || "",
          a.credentialId ? el("div", { class: "mono muted", text: `credential ${a.credentialId}` }) : null,
        ),
        el("td", {
          class: "address",
          text: a.remoteAddress || "",
          attrs: { "data-label": "Address", title: a.userAgent ? `User agent: ${a.userAgent}` : undefined },
        }),
      ),
    );
  }
  auditNext = doc.meta?.page?.next ?? null;
  $("audit-more").hidden = !auditNext;
  $("audit-empty").hidden = body.rows.length > 0;
}

function onAuditMore() {
  run(async () => {
    const generation = detailGeneration;
    const doc = await call("GET", auditPath(currentUser, auditNext));
    if (generation !== detailGeneration) return;
    appendAudit(doc);
  });
}

// ---------------------------------------------------------------- start

function init() {
  $("token-form").addEventListener("submit", onTokenSet);
  $("search-form").addEventListener("submit", onSearch);
  $("users-more").addEventListener("click", onUsersMore);
  $("unlock").addEventListener("click", onUnlock);
  $("audit-more").addEventListener("click", onAuditMore);
}

bindBusy(api.onBusyChange);
init();
