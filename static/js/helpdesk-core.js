// The helpdesk page's shared state: the token (in memory, or kept for this tab in
// sessionStorage when asked), its role, and how every call runs (one at a time, errors shown).

import * as api from "./api.js";
import { ADMIN, ApiError } from "./api.js";
import { $, showError, clearMessages, friendlyError } from "./ui.js";

export const PAGE_SIZE = 20;
const KEPT = "fidoflow.helpdesk.token";

/** The token in use, and what `GET /rest/admin/token` said of it. */
export const state = { token: null, role: null, name: null };

let operation = false;

export function busy() {
  return operation;
}

export function call(method, path, body) {
  if (!state.token) {
    return Promise.reject(new ApiError({ code: "NO_TOKEN", detail: "enter a helpdesk token first" }));
  }
  return api.admin(state.token, method, path, body);
}

export const userPath = (username) => `${ADMIN}/users/${encodeURIComponent(username)}`;

/** Runs one operation at a time; a refusal is shown in #message. */
export async function run(fn) {
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

// ---- the token kept for this tab ----

export function keptToken() {
  try {
    return sessionStorage.getItem(KEPT);
  } catch {
    return null;
  }
}

export function keepToken(token) {
  try {
    if (token) sessionStorage.setItem(KEPT, token);
    else sessionStorage.removeItem(KEPT);
  } catch {
    // Storage refused (private mode): the token stays in memory only.
  }
}

export const isAdmin = () => state.role === "admin";

/** Why a helpdesk token may not create or delete users (shown beside the disabled controls). */
export const ADMIN_ONLY =
  "Creating and deleting users needs an admin token; this token has the helpdesk role.";
