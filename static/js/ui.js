// Shared DOM helpers. Every server-supplied string goes into the page as text (textContent or
// attribute values), never as HTML: usernames and display names come from anonymous sign-ups.

import { ApiError } from "./api.js";
import { CeremonyCancelled, CeremonyRefused } from "./webauthn.js";

export const $ = (id) => document.getElementById(id);

/**
 * Creates an element. `props`: { class, text, attrs: {name: value}, hidden, type, disabled }.
 * Children are nodes or strings (strings become text nodes).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined && props.text !== null) node.textContent = String(props.text);
  if (props.type) node.type = props.type;
  if (props.hidden) node.hidden = true;
  if (props.disabled) node.disabled = true;
  if (props.attrs) {
    for (const [k, v] of Object.entries(props.attrs)) {
      if (v !== undefined && v !== null && v !== false) node.setAttribute(k, String(v));
    }
  }
  if (props.dataset) {
    for (const [k, v] of Object.entries(props.dataset)) node.dataset[k] = String(v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
}

// ---- messages ----

export function showError(text) {
  const status = $("status");
  const message = $("message");
  if (status) status.textContent = "";
  if (message) message.textContent = text;
}

export function showStatus(text) {
  const status = $("status");
  const message = $("message");
  if (message) message.textContent = "";
  if (status) status.textContent = text;
}

export function clearMessages() {
  showStatus("");
}

// ---- busy ----

export function bindBusy(onBusyChange) {
  onBusyChange((busy) => {
    document.body.dataset.busy = busy ? "true" : "false";
    document.body.setAttribute("aria-busy", busy ? "true" : "false");
  });
}

// ---- dates ----

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function parseDate(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** A `<time>` element with the date in the user's locale, or `fallback` text. */
export function timeEl(iso, { fallback = "—", precise = false } = {}) {
  const d = parseDate(iso);
  if (!d) return document.createTextNode(fallback);
  const node = el("time", {
    text: (precise ? fullFormat : dateTimeFormat).format(d),
    attrs: { datetime: d.toISOString(), title: d.toLocaleString() },
  });
  return node;
}

export function formatDateTime(iso) {
  const d = parseDate(iso);
  return d ? dateTimeFormat.format(d) : "";
}

/** "at 14:05" for today, else "on 23 Nov 2026, 14:05". */
export function formatWhen(iso) {
  const d = parseDate(iso);
  if (!d) return "";
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return `at ${timeFormat.format(d)}`;
  return `on ${dateTimeFormat.format(d)}`;
}

// ---- credential metadata in words ----

const TRANSPORTS = {
  usb: "USB",
  nfc: "NFC",
  ble: "Bluetooth",
  "smart-card": "Smart card",
  hybrid: "Phone or tablet (QR code)",
  internal: "Built into this device",
  cable: "Phone or tablet (QR code)",
};

export function transportsText(list) {
  if (!Array.isArray(list) || list.length === 0) return "Connection not reported";
  return list.map((t) => TRANSPORTS[t] || t).join(", ");
}

export function syncText(a) {
  if (a.backupEligible && a.backupState) return "Synced passkey — backed up to your passkey provider";
  if (a.backupEligible) return "Can sync — not backed up yet";
  if (a.backupEligible === false) return "Device-bound — stays on this authenticator";
  return "Sync status unknown";
}

/**
 * The helpdesk's wording: "YubiKey 5", "claims to be YubiKey 5" (untrusted attestation), or
 * "Unknown model". The portal words the model for the account owner (credential-view.js).
 */
export function modelText(a) {
  const name = a.authenticatorName;
  if (!name) return "Unknown model";
  return a.attestationTrusted ? name : `claims to be ${name}`;
}

/** The model's icon from the FIDO metadata (an inline image), else a drawn passkey or key. */
export function credentialIcon(a, drawn) {
  const icon = a.authenticatorIcon;
  if (typeof icon === "string" && icon.startsWith("data:image/")) {
    return el("img", { class: "credential-icon model-icon", attrs: { src: icon, alt: "", "aria-hidden": "true" } });
  }
  return el("span", { class: `credential-icon ${drawn}`, attrs: { "aria-hidden": "true" } });
}

export function stateText(a) {
  if (a.enabled) return "Enabled";
  if (a.disabledBy === "helpdesk") return "Disabled by the helpdesk";
  if (a.disabledBy === "user") return "Disabled by you";
  return "Disabled";
}

// ---- errors in words ----

export function sentence(detail) {
  const s = String(detail || "").trim();
  if (!s) return "";
  const first = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

const CANCELLED = "Cancelled — nothing was changed.";

/**
 * A sentence a person understands for any error: a WebAuthn cancel or timeout, a browser
 * refusal, or a server refusal (mapped by code, else the server's detail).
 */
export function friendlyError(err, { cancelled = CANCELLED } = {}) {
  if (err instanceof CeremonyCancelled) {
    switch (err.reason) {
      case "TIMEOUT":
        return "The passkey prompt timed out — nothing was changed. Try again when you're ready.";
      case "WEB_AUTHN_NOT_AVAILABLE":
        return "This browser can't use passkeys or security keys. Try an up-to-date browser.";
      default:
        return cancelled;
    }
  }
  if (err instanceof CeremonyRefused) {
    switch (err.kind) {
      case "InvalidStateError":
        return "This authenticator is already registered to your account — nothing was changed.";
      case "NotSupportedError":
        return "Your authenticator doesn't support what this site asks for. Try another one.";
      case "SecurityError":
        return "The browser refused the passkey request for this address (security check).";
      default:
        return `Your browser stopped the passkey request: ${sentence(err.message) || err.kind}`;
    }
  }
  if (!(err instanceof ApiError)) {
    return "Something went wrong in this page. Reload it and try again.";
  }
  const detail = sentence(err.detail);
  switch (err.code) {
    case "USER_LOCKED": {
      const when = formatWhen(err.meta.temporaryLockExpiry);
      return when
        ? `Too many attempts. Try again after ${when.replace(/^(at|on) /, "")}.`
        : "Too many attempts. Try again in a few minutes.";
    }
    case "USERNAME_PASSWORD_WRONG":
      return /different user/i.test(err.detail)
        ? "Someone else is signed in on this browser. Sign out first."
        : "That username and password don't match. Check them and try again.";
    case "USERNAME_NOT_AVAILABLE":
      return "That username is already taken. Please choose another one.";
    case "INVALID_USERNAME":
      return "Usernames are 3 to 64 characters: letters, digits, and . _ @ -";
    case "INVALID_DISPLAY_NAME":
      return `That name can't be used. ${detail}`.trim();
    case "FIDO_REGISTRATION_FAILED":
    case "FIDO_AUTHENTICATION_FAILED":
    case "FIDO_APPROVAL_FAILED":
      return `Your authenticator's answer was not accepted: ${detail || "no reason given."}`;
    case "FIDO_REGISTRATION_TIMEOUT":
    case "FIDO_AUTHENTICATION_TIMEOUT":
    case "FIDO_APPROVAL_TIMEOUT":
      return "The passkey request expired before your authenticator answered. Please try again.";
    case "NO_VALID_TOKEN":
      return "None of your passkeys or security keys can be used right now (they are all disabled). Contact the helpdesk.";
    case "TOO_MANY_REQUESTS":
      return "Too many attempts in a short time. Wait a minute and try again.";
    case "SERVER_BUSY":
      return "The server is busy right now. Try again in a moment.";
    case "CSRF_HEADER_MISSING":
      // This page always sends X-Same-Domain: a stale cached page, or a proxy that drops it.
      return "The server refused this request as a security precaution: it arrived without the X-Same-Domain header this page sends. Reload the page; if this keeps happening, a proxy between you and the server drops that header and must pass it on.";
    case "CSRF_ORIGIN_MISMATCH":
      // The server says at which address the page was opened and which it accepts.
      return detail || "The server refused this request: this page was opened at an address the server does not accept. Open the server's configured address.";
    case "CONCURRENT_ACCESS":
      return "Another request was still running. Try again in a moment.";
    case "NOT_AUTHORIZED":
      return err.status === 401
        ? "You're not signed in (your session may have ended). Please sign in again."
        : "For your security, confirm it's you again before making this change.";
    case "PRECONDITION_NOT_FULFILLED":
      return `This isn't available for your account. ${detail}`.trim();
    case "FIDO_CREDENTIAL_NOT_FOUND":
      return "That passkey or security key no longer exists.";
    case "FIDO_CREDENTIAL_CHANGE_NOT_ALLOWED":
      return `That change isn't allowed. ${detail}`.trim();
    case "UNEXPECTED_CALL":
      return `That step was out of order, so nothing was changed. Please start again. (${detail})`;
    case "REQUEST_TOO_LARGE":
      return "The request was too large for the server.";
    case "NETWORK":
      return "Can't reach the server. Check your connection and try again.";
    case "INTERNAL_ERROR":
      return "Something went wrong on the server. Please try again later.";
    case "NOT_AUTHENTICATED":
      return "That helpdesk token was not accepted. Check it and set it again.";
    case "NO_ADMIN_TOKEN_CONFIGURED":
      return "No admin token is configured on this server, so no token can be accepted here. Start the server with FIDOFLOW_ADMIN_TOKEN set (or [[admin.tokens]] in its configuration), then set that token here.";
    case "FORBIDDEN":
      return "This helpdesk token is not allowed to do that.";
    case "USER_NOT_FOUND":
      return "There is no such user (any more).";
    default:
      return detail || `The server refused the request (${err.code}).`;
  }
}

// ---- dialogs ----

function openDialog(dialog, focusTarget) {
  const opener = document.activeElement;
  dialog.showModal();
  if (focusTarget) focusTarget.focus();
  return () => {
    if (dialog.open) dialog.close();
    if (opener && typeof opener.focus === "function" && opener.isConnected) opener.focus();
  };
}

/**
 * `#confirm-dialog`: resolves true on OK, false on cancel or Escape.
 */
export function confirmDialog({ title, text, ok = "OK", danger = false }) {
  const dialog = $("confirm-dialog");
  const okButton = $("confirm-ok");
  const cancelButton = $("confirm-cancel");
  const titleEl = $("confirm-title");
  if (titleEl) titleEl.textContent = title || "Are you sure?";
  $("confirm-text").textContent = text;
  okButton.textContent = ok;
  okButton.classList.toggle("danger", danger);
  return new Promise((resolve) => {
    const done = (value) => {
      okButton.removeEventListener("click", onOk);
      cancelButton.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onEscape);
      close();
      resolve(value);
    };
    const onOk = () => done(true);
    const onCancel = () => done(false);
    const onEscape = (e) => {
      e.preventDefault();
      done(false);
    };
    okButton.addEventListener("click", onOk);
    cancelButton.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onEscape);
    const close = openDialog(dialog, cancelButton);
  });
}

/**
 * `#name-dialog`: asks for a display name; resolves the trimmed name, or null when cancelled.
 */
export function nameDialog({ title, text = "", value = "", ok = "Save" }) {
  const dialog = $("name-dialog");
  const form = $("name-form");
  const input = $("name-input");
  const okButton = $("name-ok");
  const cancelButton = $("name-cancel");
  const hint = $("name-error");
  $("name-title").textContent = title;
  $("name-text").textContent = text;
  okButton.textContent = ok;
  input.value = value;
  hint.textContent = "";
  hint.hidden = true;
  input.removeAttribute("aria-invalid");
  return new Promise((resolve) => {
    const done = (v) => {
      form.removeEventListener("submit", onSubmit);
      cancelButton.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onEscape);
      close();
      resolve(v);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (!v) {
        hint.textContent = "Please enter a name.";
        hint.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      done(v);
    };
    const onCancel = () => done(null);
    const onEscape = (e) => {
      e.preventDefault();
      done(null);
    };
    form.addEventListener("submit", onSubmit);
    cancelButton.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onEscape);
    const close = openDialog(dialog, input);
    input.select();
  });
}
