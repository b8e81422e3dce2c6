// The signed-in user's account sections of the portal: the display name and the password
// (change with the current password or a passkey, add to a passkey-only account, remove), and
// deleting the account; the account's recent security activity (from the audit log); and the
// card of its active sessions (static/js/sessions.js).
// Each change runs its self-service flow through the portal's runFlow; this module answers the
// account steps (USER_DISPLAY_NAME_CHANGE_REQUIRED, CURRENT_PASSWORD_REQUIRED,
// NEW_PASSWORD_REQUIRED).

import * as api from "./api.js";
import { SELF } from "./api.js";
import { $, el, clear, showStatus, nameDialog, confirmDialog, timeEl } from "./ui.js";
import { sessionsCard, loadSessions } from "./sessions.js";

let hooks = null; // { run, runFlow, approvalCeremony, busy, leave }
let account = null; // the `my.user` attributes

/** Wires the sections into `#account-settings`; called once by the portal. */
export function setupAccount(portal) {
  hooks = portal;
  document.body.append(passwordDialog());
}

/** Loads and shows the account; called whenever the account view is entered. */
export async function loadAccount() {
  const doc = await api.get(`${SELF}/user`);
  account = doc?.data?.attributes || null;
  render();
  await Promise.all([loadActivity(), loadSessions()]);
}

function render() {
  const root = $("account-settings");
  if (!root) return;
  clear(root);
  if (!account) return;
  const name = account.displayName || "";
  root.append(
    el(
      "div",
      { class: "card", attrs: { "aria-labelledby": "profile-title" } },
      el("div", { class: "section-head" }, el("h2", { text: "Your account", attrs: { id: "profile-title" } })),
      el(
        "dl",
        { class: "account-facts" },
        el("dt", { text: "Username" }),
        el("dd", { text: account.username }),
        el("dt", { text: "Display name" }),
        el(
          "dd",
          {},
          el("span", { text: name || "None yet", attrs: { id: "account-display-name" } }),
          " ",
          el("button", { class: "link", type: "button", text: "Change", attrs: { id: "account-rename" } }),
        ),
      ),
    ),
    el(
      "div",
      { class: "card", attrs: { "aria-labelledby": "password-title" } },
      el("div", { class: "section-head" }, el("h2", { text: "Password", attrs: { id: "password-title" } })),
      el("p", {
        class: "muted",
        attrs: { id: "password-state" },
        text: account.hasPassword
          ? "You can sign in with your password (and your passkeys)."
          : "You have no password: you sign in with your passkeys only.",
      }),
      el(
        "div",
        { class: "actions" },
        account.hasPassword
          ? [
              el("button", { class: "secondary", type: "button", text: "Change password", attrs: { id: "password-change" } }),
              el("button", {
                class: "secondary",
                type: "button",
                text: "Remove password",
                attrs: { id: "password-remove" },
                disabled: !account.hasEnabledCredential,
              }),
            ]
          : el("button", {
              class: "secondary",
              type: "button",
              text: "Add a password",
              attrs: { id: "password-add" },
              disabled: !account.hasEnabledCredential,
            }),
      ),
      account.hasPassword && !account.hasEnabledCredential
        ? el("p", { class: "hint", text: "Add a passkey before you can remove your password." })
        : null,
    ),
    sessionsCard({ ...hooks, activity: loadActivity }),
    el(
      "div",
      { class: "card", attrs: { "aria-labelledby": "activity-title" } },
      el("div", { class: "section-head" }, el("h2", { text: "Recent security activity", attrs: { id: "activity-title" } })),
      el("ul", { class: "activity", attrs: { id: "activity", "aria-labelledby": "activity-title" } }),
      el("p", { class: "empty", hidden: true, text: "Nothing yet.", attrs: { id: "activity-empty" } }),
      el("button", { class: "secondary", type: "button", hidden: true, text: "Show older activity", attrs: { id: "activity-more" } }),
    ),
    el(
      "div",
      { class: "card", attrs: { "aria-labelledby": "delete-account-title" } },
      el("div", { class: "section-head" }, el("h2", { text: "Delete your account", attrs: { id: "delete-account-title" } })),
      el("p", {
        class: "muted",
        text: "Your account, its password and all its passkeys and security keys are removed, and you are signed out everywhere. This can't be undone.",
      }),
      el(
        "div",
        { class: "actions" },
        el("button", {
          class: "danger-outline",
          type: "button",
          text: "Delete my account",
          attrs: { id: "account-delete" },
          disabled: !account.hasEnabledCredential && !account.hasPassword,
        }),
      ),
      account.hasEnabledCredential || account.hasPassword
        ? null
        : el("p", { class: "hint", text: "Deleting your account needs a confirmation with a passkey: add one first." }),
    ),
  );
  $("account-rename").addEventListener("click", onRename);
  $("password-change")?.addEventListener("click", () => onPassword("change"));
  $("password-add")?.addEventListener("click", () => onPassword("add"));
  $("password-remove")?.addEventListener("click", onRemove);
  $("account-delete").addEventListener("click", onDeleteAccount);
  $("activity-more").addEventListener("click", () => {
    if (!hooks.busy()) hooks.run(() => loadActivity({ more: true }));
  });
}

// ---- recent security activity

const EVENTS = {
  PASSWORD_CHECK: ["Signed in with the password", "A wrong password was given"],
  FIDO_AUTHENTICATION: ["Signed in with a passkey", "A passkey sign-in failed"],
  FIDO_REGISTRATION: ["Passkey or security key added", "Adding a passkey failed"],
  SIGN_UP: ["Account created with a passkey", "Account creation failed"],
  CREDENTIAL_RENAMED: ["Passkey renamed", "Renaming a passkey failed"],
  CREDENTIAL_DISABLED: ["Passkey disabled", "Disabling a passkey failed"],
  CREDENTIAL_ENABLED: ["Passkey enabled", "Enabling a passkey failed"],
  CREDENTIAL_DELETED: ["Passkey deleted", "Deleting a passkey failed"],
  SIGN_COUNTER_REGRESSION: ["A passkey's counter went backwards (possibly cloned)", "A passkey's counter went backwards (possibly cloned)"],
  USER_LOCKED: ["Account locked after failed attempts", "Account locked after failed attempts"],
  USER_UNLOCKED: ["Account unlocked", "Unlocking failed"],
  USER_DISPLAY_NAME_CHANGED: ["Display name changed", "Changing the display name failed"],
  PASSWORD_CHANGED: ["Password set", "Setting the password failed"],
  PASSWORD_REMOVED: ["Password removed", "Removing the password failed"],
  SESSIONS_ENDED: ["Signed out another session", "Signing out failed"],
};
const BY = { helpdesk: " by the helpdesk", system: " by the server" };

let activityNext = null;

async function loadActivity({ more = false } = {}) {
  const list = $("activity");
  if (!list) return;
  const query = more && activityNext ? `?page[size]=10&page[after]=${encodeURIComponent(activityNext)}` : "?page[size]=10";
  const doc = await api.get(`${SELF}/security-events${query}`);
  if (!more) clear(list);
  for (const e of Array.isArray(doc.data) ? doc.data : []) list.append(activityItem(e.attributes || {}));
  activityNext = doc.meta?.page?.next || null;
  $("activity-empty").hidden = list.children.length > 0;
  $("activity-more").hidden = !activityNext;
}

/** The words for an event; a few events say more by their detail. */
function activityWords(a) {
  if (a.event === "PASSWORD_CHECK" && /^self-service/.test(a.detail || "")) {
    return ["Current password confirmed", "A wrong current password was given"];
  }
  if (a.event === "SESSIONS_ENDED") {
    if (a.by === "helpdesk") return ["Signed out everywhere", "Signing out failed"];
    if (a.detail === "signed out this session") return ["Signed out this session", "Signing out failed"];
    if (/other session/.test(a.detail || "")) return ["Signed out everywhere else", "Signing out failed"];
  }
  if (a.event === "PASSWORD_CHANGED") {
    return a.detail === "password added" ? ["Password added", "Adding a password failed"] : ["Password changed", "Changing the password failed"];
  }
  return EVENTS[a.event] || [a.event, `${a.event} (failed)`];
}

function activityItem(a) {
  const [ok, failed] = activityWords(a);
  const where = [a.remoteAddress, a.userAgent].filter(Boolean).join(" · ");
  return el(
    "li",
    { class: a.success ? "activity-item" : "activity-item failed", dataset: { event: a.event } },
    el("span", { class: "what", text: `${a.success ? ok : failed}${BY[a.by] || ""}` }),
    " ",
    el("span", { class: "when muted" }, timeEl(a.time)),
    where ? el("span", { class: "where muted", text: where }) : null,
  );
}

// ---- the account itself

async function onDeleteAccount() {
  if (hooks.busy()) return;
  // With a passkey the deletion is approved with one; a password-only account with its password.
  const byPassword = !account.hasEnabledCredential;
  const ok = await confirmDialog({
    title: "Delete your account?",
    text: `“${account.username}” and all its passkeys and security keys will be removed, and you'll be signed out everywhere. This can't be undone. ${
      byPassword ? "You'll confirm with your password." : "You'll confirm with one of your passkeys or security keys."
    }`,
    ok: "Delete my account",
    danger: true,
  });
  if (!ok) return;
  const answer = byPassword ? await askPassword("delete") : null;
  if (byPassword && !answer) return;
  hooks.run(async () => {
    await hooks.runFlow(byPassword ? "account-deletion-by-password" : "account-deletion", {
      step: (next) =>
        next === "CURRENT_PASSWORD_REQUIRED" && answer ? api.post(`${SELF}/password/current/check`, { password: answer.current }) : null,
    });
    account = null;
    render();
    await hooks.leave();
    showStatus("Your account was deleted. You're signed out.");
  });
}

// ---- display name

async function onRename() {
  if (hooks.busy()) return;
  const name = await nameDialog({
    title: "Display name",
    text: "The name shown for your account (not your username).",
    value: account?.displayName || "",
    ok: "Save",
  });
  if (name === null) return;
  hooks.run(async () => {
    await hooks.runFlow("account-display-name", {
      step: (next) => {
        if (next !== "USER_DISPLAY_NAME_CHANGE_REQUIRED") return null;
        return api.post(`${SELF}/user/display-name/change`, { displayName: name });
      },
    });
    await loadAccount();
    $("account-rename").focus();
    showStatus(`Your display name is now “${name}”.`);
  });
}

// ---- password

async function onPassword(kind) {
  if (hooks.busy()) return;
  const answer = await askPassword(kind);
  if (!answer) return;
  hooks.run(async () => {
    await hooks.runFlow(kind === "change" ? "password-change" : "password-add", {
      step: (next) => {
        if (next === "CURRENT_PASSWORD_REQUIRED") {
          if (answer.usePasskey) {
            showStatus("Confirm with one of your passkeys or security keys.");
            return hooks.approvalCeremony();
          }
          return api.post(`${SELF}/password/current/check`, { password: answer.current });
        }
        if (next === "NEW_PASSWORD_REQUIRED") {
          return api.post(`${SELF}/password/new/set`, { password: answer.password });
        }
        return null;
      },
    });
    await loadAccount();
    $("password-title").focus?.();
    showStatus(
      kind === "change"
        ? "Your password is changed. Your other sessions were signed out."
        : "You can now also sign in with your password.",
    );
  });
}

async function onRemove() {
  if (hooks.busy()) return;
  const ok = await confirmDialog({
    title: "Remove your password?",
    text: "You will sign in with your passkeys only, and your other sessions will be signed out. You'll confirm with one of your passkeys or security keys.",
    ok: "Remove password",
    danger: true,
  });
  if (!ok) return;
  hooks.run(async () => {
    await hooks.runFlow("password-removal", {});
    await loadAccount();
    showStatus("Your password is removed. You sign in with your passkeys now.");
  });
}

// ---- the password dialog

function field(id, label, autocomplete) {
  return el(
    "div",
    { class: "field", attrs: { id: `${id}-field` } },
    el("label", { text: label, attrs: { for: id } }),
    el("input", {
      type: "password",
      attrs: { id, name: id, autocomplete, maxlength: 1024, "aria-describedby": "password-dialog-error" },
    }),
  );
}

function passwordDialog() {
  return el(
    "dialog",
    { attrs: { id: "password-dialog", "aria-labelledby": "password-dialog-title" } },
    el(
      "form",
      { class: "stack", attrs: { id: "password-form-dialog", novalidate: true } },
      el("h2", { attrs: { id: "password-dialog-title" }, text: "Password" }),
      field("current-password-input", "Current password", "current-password"),
      el(
        "label",
        { class: "check", attrs: { id: "use-passkey-label" } },
        el("input", { type: "checkbox", attrs: { id: "use-passkey-instead" } }),
        " Confirm with a passkey instead",
      ),
      field("new-password-input", "New password (8 characters or more)", "new-password"),
      el("p", { class: "field-error", hidden: true, attrs: { id: "password-dialog-error", role: "alert" } }),
      el(
        "div",
        { class: "dialog-actions" },
        el("button", { class: "secondary", type: "button", text: "Cancel", attrs: { id: "password-dialog-cancel" } }),
        el("button", { class: "primary", type: "submit", text: "Save", attrs: { id: "password-dialog-ok" } }),
      ),
    ),
  );
}

/** Asks for the passwords; resolves { current, usePasskey, password } or null when cancelled. */
function askPassword(kind) {
  const dialog = $("password-dialog");
  const form = $("password-form-dialog");
  const current = $("current-password-input");
  const usePasskey = $("use-passkey-instead");
  const fresh = $("new-password-input");
  const error = $("password-dialog-error");
  // "change": current and new; "add": new only; "delete": the current one only.
  const change = kind === "change";
  const confirmOnly = kind === "delete";
  const titles = { change: "Change your password", add: "Add a password", delete: "Confirm with your password" };
  $("password-dialog-title").textContent = titles[kind];
  $("password-dialog-ok").textContent = confirmOnly ? "Delete my account" : "Save";
  $("password-dialog-ok").classList.toggle("danger", confirmOnly);
  $("current-password-input-field").hidden = !change && !confirmOnly;
  $("new-password-input-field").hidden = confirmOnly;
  $("use-passkey-label").hidden = !change || !account?.hasEnabledCredential;
  current.value = "";
  fresh.value = "";
  usePasskey.checked = false;
  error.hidden = true;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const syncPasskey = () => {
      current.disabled = usePasskey.checked;
    };
    syncPasskey();
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      $("password-dialog-cancel").removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onEscape);
      usePasskey.removeEventListener("change", syncPasskey);
      if (dialog.open) dialog.close();
      if (opener?.isConnected) opener.focus();
      resolve(value);
    };
    const fail = (text, input) => {
      error.textContent = text;
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    };
    const onSubmit = (e) => {
      e.preventDefault();
      current.removeAttribute("aria-invalid");
      fresh.removeAttribute("aria-invalid");
      if (change && !usePasskey.checked && !current.value) {
        fail("Please enter your current password, or confirm with a passkey instead.", current);
        return;
      }
      if (confirmOnly) {
        if (!current.value) fail("Please enter your password.", current);
        else done({ current: current.value, usePasskey: false, password: "" });
        return;
      }
      const length = [...fresh.value].length;
      if (length < 8 || length > 1024) {
        fail("A password has 8 to 1024 characters.", fresh);
        return;
      }
      done({ current: current.value, usePasskey: change && usePasskey.checked, password: fresh.value });
    };
    const onCancel = () => done(null);
    const onEscape = (e) => {
      e.preventDefault();
      done(null);
    };
    form.addEventListener("submit", onSubmit);
    $("password-dialog-cancel").addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onEscape);
    usePasskey.addEventListener("change", syncPasskey);
    dialog.showModal();
    (change || confirmOnly ? current : fresh).focus();
  });
}
