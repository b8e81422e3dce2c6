// The helpdesk page: the token (kept in memory, or for this tab when asked, with a button to
// forget it), then users (helpdesk-users.js), one user (helpdesk-detail.js, with
// helpdesk-credentials.js) and their audit trail (helpdesk-audit.js), through /rest/admin.

import * as api from "./api.js";
import { ADMIN, ApiError } from "./api.js";
import { $, showError, showStatus, bindBusy, friendlyError } from "./ui.js";
import { state, call, run, keptToken, keepToken } from "./helpdesk-core.js";
import * as users from "./helpdesk-users.js";
import * as detail from "./helpdesk-detail.js";
import * as audit from "./helpdesk-audit.js";

// ---------------------------------------------------------------- token

/** Uses `token`: asks the server for its role first, so the page offers what the role may do. */
async function useToken(token, { keep }) {
  state.token = token;
  const doc = await call("GET", `${ADMIN}/token`);
  const a = doc?.data?.attributes || {};
  state.role = a.role || null;
  state.name = a.name || null;
  keepToken(keep ? token : null);
  showRole();
  loadMetadataStatus();
}

function showRole() {
  const set = !!state.token;
  $("token").placeholder = set ? "Token in use — enter another to replace it" : "";
  $("token-forget").hidden = !set;
  $("token-role").hidden = !set;
  $("token-role").textContent = set ? `Token “${state.name}” with the ${state.role} role.` : "";
  users.applyRole();
  detail.applyRole();
}

function onTokenSet(event) {
  event.preventDefault();
  const value = $("token").value.trim();
  $("token").value = "";
  if (!value) {
    showError("Enter a helpdesk token.");
    $("token").focus();
    return;
  }
  const keep = $("token-keep").checked;
  run(async () => {
    try {
      await useToken(value, { keep });
    } catch (err) {
      forget();
      throw err;
    }
    showStatus(keep ? "Token set and kept for this tab. Search for a user." : "Token set. Search for a user.");
    $("search").focus();
  });
}

function forget() {
  state.token = null;
  state.role = null;
  state.name = null;
  keepToken(null);
  $("mds-status").hidden = true;
  showRole();
}

function onForget() {
  forget();
  $("token-keep").checked = false;
  $("user-detail").hidden = true;
  showStatus("The token is forgotten.");
  $("token").focus();
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

// ---------------------------------------------------------------- start

function init() {
  $("token-form").addEventListener("submit", onTokenSet);
  $("token-forget").addEventListener("click", onForget);
  users.init();
  users.setOnOpen(detail.openUser);
  detail.init();
  audit.init();
  showRole();
  const kept = keptToken();
  if (kept) {
    $("token-keep").checked = true;
    run(async () => {
      try {
        await useToken(kept, { keep: true });
      } catch (err) {
        forget();
        throw err;
      }
      showStatus("Using the token kept for this tab.");
    });
  }
}

bindBusy(api.onBusyChange);
init();
