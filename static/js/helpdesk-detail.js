// One user on the helpdesk page: who they are, their lock (Unlock only while locked), their
// authenticators (disable, enable, delete), deleting the user (admin role) and their trail.

import { $, clear, showStatus, timeEl, formatWhen, confirmDialog } from "./ui.js";
import { call, run, busy, userPath, isAdmin, ADMIN_ONLY } from "./helpdesk-core.js";
import { credentialItem, credentialName } from "./helpdesk-credentials.js";
import { loadAudit, resetFilter } from "./helpdesk-audit.js";
import { setOpenUser, updateRow, reload as reloadUsers } from "./helpdesk-users.js";

let currentUser = null;
let generation = 0;

export function openUser(username, status) {
  run(async () => {
    currentUser = username;
    generation += 1;
    setOpenUser(username);
    resetFilter();
    await refreshDetail({ generation });
    $("detail-username").focus();
    if (status) showStatus(status);
  });
}

async function refreshDetail({ generation: asked = generation, user = true, credentials = true, audit = true } = {}) {
  const username = currentUser;
  if (!username) return;
  const [userDoc, credentialsDoc] = await Promise.all([
    user ? call("GET", userPath(username)) : null,
    credentials ? call("GET", `${userPath(username)}/fido/credentials`) : null,
    audit ? loadAudit(username) : null,
  ]);
  if (asked !== generation) return;
  $("user-detail").hidden = false;
  if (userDoc) renderUser(userDoc.data);
  if (credentialsDoc) renderCredentials(Array.isArray(credentialsDoc.data) ? credentialsDoc.data : []);
}

function renderUser(user) {
  const a = user?.attributes || {};
  $("detail-username").textContent = a.username || currentUser;
  const info = [];
  if (a.displayName) info.push(a.displayName);
  info.push(a.hasPassword ? "has a password" : "passkeys only");
  $("detail-info").replaceChildren(info.join(" · "));
  if (a.createdAt) $("detail-info").append(" · created ", timeEl(a.createdAt));
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
  // Unlocking is offered only while the user is locked.
  $("unlock").hidden = !a.locked;
  applyRole();
  updateRow(user);
}

/** Deleting a user needs the admin role: a helpdesk token sees the button disabled, and why. */
export function applyRole() {
  const admin = isAdmin();
  $("delete-user").disabled = !admin;
  $("delete-user-reason").hidden = admin;
  $("delete-user-reason").textContent = admin ? "" : ADMIN_ONLY;
}

function renderCredentials(credentials) {
  const list = $("user-credentials");
  clear(list);
  $("user-credentials-empty").hidden = credentials.length > 0;
  credentials.forEach((credential, index) =>
    list.append(credentialItem(credential, index, { onToggle, onDelete })),
  );
}

function focusCredentialButton(id, cls) {
  const li = [...$("user-credentials").children].find((x) => x.dataset.id === id);
  (li?.querySelector(`button.${cls}`) || $("detail-username")).focus();
}

async function onToggle(credential) {
  if (busy()) return;
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
    showStatus(enabled ? `“${name}” is disabled; ${user} was signed out everywhere.` : `“${name}” is enabled again.`);
  });
}

async function onDelete(credential) {
  if (busy()) return;
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
    $("detail-username").focus();
    showStatus(`${user} is unlocked; failed attempts were reset.`);
  });
}

async function onEndSessions() {
  if (busy()) return;
  const user = currentUser;
  const ok = await confirmDialog({
    title: `Sign ${user} out everywhere?`,
    text: `Every browser and device signed in as ${user} is signed out, as after a lost device. Their passkeys and password stay.`,
    ok: "Sign out everywhere",
  });
  if (!ok) return;
  run(async () => {
    await call("POST", `${userPath(user)}/sessions/end`, {});
    await refreshDetail({ credentials: false });
    $("detail-username").focus();
    showStatus(`${user} is signed out everywhere.`);
  });
}

async function onDeleteUser() {
  if (busy() || !isAdmin()) return;
  const user = currentUser;
  const ok = await confirmDialog({
    title: `Delete the user ${user}?`,
    text: `${user} and all their authenticators will be deleted, and they will be signed out everywhere. This can't be undone.`,
    ok: "Delete user",
    danger: true,
  });
  if (!ok) return;
  run(async () => {
    await call("DELETE", userPath(user));
    currentUser = null;
    generation += 1;
    $("user-detail").hidden = true;
    await reloadUsers();
    $("search").focus();
    showStatus(`The user ${user} was deleted.`);
  });
}

export function init() {
  $("unlock").addEventListener("click", onUnlock);
  $("end-sessions").addEventListener("click", onEndSessions);
  $("delete-user").addEventListener("click", onDeleteUser);
}
