// The self-service portal: sign in (password + FIDO, passkey button, passkey autofill), passkey
// sign-up, and the signed-in user's authenticators (add, rename, disable/enable, delete).

import * as api from "./api.js";
import { ApiError, AUTH, SIGNUP, SELF } from "./api.js";
import * as webauthn from "./webauthn.js";
import { CeremonyCancelled, CeremonyRefused } from "./webauthn.js";
import {
  $,
  clear,
  showError,
  showStatus,
  clearMessages,
  bindBusy,
  friendlyError,
  confirmDialog,
  nameDialog,
} from "./ui.js";
import { credentialItem } from "./credential-view.js";
import { setupAccount, loadAccount } from "./account.js";
import { clearFieldErrors, fieldError, signingInAs, validateSignin } from "./signin.js";

const VIEWS = ["signin", "second-factor", "signup", "account"];
const TITLES = {
  signin: "Sign in",
  "second-factor": "Confirm it's you",
  signup: "Create an account",
  account: "Passkeys & security keys",
};

const state = {
  username: null,
  rpId: location.hostname,
  // The user handle (b64url) for the passkey manager signals, and whose it is.
  userId: null,
  userIdOwner: null,
  displayName: null,
  pendingHandle: null,
  credentials: [],
};

// One person-initiated operation at a time.
let operation = false;

// ---------------------------------------------------------------- views

function currentView() {
  return document.body.dataset.state;
}

function setView(name, { focus = true } = {}) {
  for (const v of VIEWS) $(v).hidden = v !== name;
  document.body.dataset.state = name;
  document.title = `${TITLES[name]} · fidoflow`;
  if (!focus) return;
  if (name === "signin") {
    $("username").focus();
  } else if (name === "signup") {
    $("signup-username").focus();
  } else {
    const heading = $(`${name === "account" ? "account" : name}-title`);
    heading?.focus();
  }
}

// ---------------------------------------------------------------- operations

/** Runs a person-initiated operation: busy while it runs, errors shown in words. */
async function run(fn, { cancelled } = {}) {
  if (operation) return;
  operation = true;
  clearMessages();
  api.busyStart();
  try {
    await fn();
  } catch (err) {
    handleError(err, { cancelled });
  } finally {
    operation = false;
    api.busyEnd();
    if (currentView() === "signin" && conditionalInterrupted) armConditional();
  }
}

function handleError(err, { cancelled } = {}) {
  if (!(err instanceof ApiError || err instanceof CeremonyCancelled || err instanceof CeremonyRefused)) {
    console.error(err);
  }
  showError(friendlyError(err, cancelled ? { cancelled } : undefined));
  if (!(err instanceof ApiError)) return;
  const view = currentView();
  if (err.status === 401 && err.code === "NOT_AUTHORIZED" && view === "account") {
    // The session ended (idle, signed out elsewhere, or the helpdesk disabled a key).
    signedOut();
    setView("signin", { focus: false });
  } else if (view === "second-factor" && ["USER_LOCKED", "NO_VALID_TOKEN", "UNEXPECTED_CALL"].includes(err.code)) {
    // The login flow ended; start again from the password.
    setView("signin", { focus: false });
  }
}

function signedOut() {
  state.username = null;
  state.credentials = [];
  clear($("credentials"));
  $("who").textContent = "";
}

// ---------------------------------------------------------------- passkey autofill

let conditional = null; // { controller, done }
// True when one of our own operations stopped a pending autofill offer: it is offered again once
// the person is back in the sign-in view. After signing out it is not (until the next page load).
let conditionalInterrupted = false;

/** (Re)starts passkey autofill in the username field, when the browser offers it. */
function startConditional() {
  const previous = conditional;
  const controller = new AbortController();
  const c = { controller, done: null };
  conditional = c;
  previous?.controller.abort();
  c.done = (async () => {
    if (previous) await previous.done;
    if (controller.signal.aborted || currentView() !== "signin") return;
    if (!(await webauthn.conditionalAvailable())) return;
    if (controller.signal.aborted) return;
    await runConditional(c, controller.signal);
  })().catch((err) => console.error(err));
}

/**
 * Offers passkey autofill again once the person turns to the username field, when one of our own
 * operations interrupted the offer (a refused password, a cancelled prompt, a visit to the
 * sign-up view). The page load itself starts autofill at once; signing out does not re-offer it.
 */
let armedStart = null;
function armConditional() {
  if (armedStart || conditional) return;
  const field = $("username");
  const start = () => {
    disarmConditional();
    if (currentView() === "signin" && !operation && !conditional) {
      conditionalInterrupted = false;
      startConditional();
    }
  };
  armedStart = start;
  field.addEventListener("focus", start);
  field.addEventListener("pointerdown", start);
  field.addEventListener("input", start);
}

function disarmConditional() {
  if (!armedStart) return;
  const field = $("username");
  field.removeEventListener("focus", armedStart);
  field.removeEventListener("pointerdown", armedStart);
  field.removeEventListener("input", armedStart);
  armedStart = null;
}

/** Stops passkey autofill and waits until the browser has let go of its request. */
async function stopConditional() {
  const c = conditional;
  conditional = null;
  if (!c) return;
  conditionalInterrupted = true;
  c.controller.abort();
  await c.done;
}

async function runConditional(c, signal) {
  let options;
  try {
    // Starts the `default` application; its password step accepts this challenge.
    const doc = await api.post(`${AUTH}/fido/challenge/retrieve`, { mediation: "conditional" });
    options = doc.data.attributes.publicKeyCredentialRequestOptions;
  } catch {
    return; // Autofill is a convenience: the password and the passkey button still work.
  }
  if (signal.aborted) return;
  let assertion;
  try {
    assertion = await webauthn.get(options, { mediation: "conditional", signal });
  } catch {
    // Aborted by us (another ceremony starts), or the browser gave up on its offer. This is a
    // background offer the person never started: nothing to report or show, and no retry loop.
    return;
  }
  if (signal.aborted || operation) return;
  if (conditional === c) conditional = null;
  rememberHandle(assertion);
  await run(async () => {
    const doc = await api.post(`${AUTH}/fido/assertion-response/check`, { publicKeyCredential: assertion });
    await afterAuthStep(doc);
  });
}

// ---------------------------------------------------------------- ceremonies

async function reportAbort(base, err, { registration = false } = {}) {
  // A registration the authenticator refuses because it already holds one of the user's
  // credentials (excludeCredentials: InvalidStateError) is reported as such, not as a cancel.
  const excluded = registration && err instanceof CeremonyRefused && err.kind === "InvalidStateError";
  const reason = excluded ? "EXCLUDED_CREDENTIAL" : err instanceof CeremonyCancelled ? err.reason : "ABORTED";
  try {
    await api.post(`${base}/fido/abort`, { reason });
  } catch {
    // The step waits for a new challenge either way.
  }
}

function rememberHandle(assertion) {
  const handle = webauthn.userHandleOf(assertion);
  if (handle) state.pendingHandle = handle;
}

function rememberUser(user) {
  if (!user?.id) return;
  state.userId = user.id;
  state.userIdOwner = user.name || null;
  state.displayName = user.displayName || null;
}

/** The FIDO step of a login flow: challenge, the browser's prompt, the check. */
async function loginCeremony() {
  const challenge = await api.post(`${AUTH}/fido/challenge/retrieve`, {});
  const options = challenge.data.attributes.publicKeyCredentialRequestOptions;
  let assertion;
  try {
    assertion = await webauthn.get(options);
  } catch (err) {
    await reportAbort(AUTH, err);
    throw err;
  }
  rememberHandle(assertion);
  return api.post(`${AUTH}/fido/assertion-response/check`, { publicKeyCredential: assertion });
}

async function afterAuthStep(doc) {
  const next = doc?.data?.attributes?.nextAuthStep;
  if (!next) {
    await enterAccount();
    return;
  }
  if (next === "FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED") {
    setView("second-factor");
    return;
  }
  setView("signin");
}

// ---------------------------------------------------------------- sign in

function onPasswordSubmit(event) {
  event.preventDefault();
  run(async () => {
    await stopConditional();
    const username = $("username").value.trim();
    const password = $("password").value;
    if (!validateSignin(username, password)) return;
    let doc;
    try {
      doc = await api.post(`${AUTH}/password/check`, { username, password });
    } catch (err) {
      if (err instanceof ApiError && err.code === "USERNAME_PASSWORD_WRONG" && !/different user/i.test(err.detail)) {
        // Next to the field, not at the top of the page.
        fieldError("password", friendlyError(err));
        $("password").select();
        return;
      }
      throw err;
    }
    $("password").value = "";
    // The password step's answer names no user: the second-factor step names the one typed.
    signingInAs(username);
    await afterAuthStep(doc);
  });
}

function onPasskeySignin() {
  run(
    async () => {
      clearFieldErrors();
      await stopConditional();
      try {
        await api.post(`${AUTH}/applications/fido-passwordless/access`, {});
        await enterAccount(); // already signed in
        return;
      } catch (err) {
        // 401 with nextAuthStep is the expected answer: the passwordless flow has started.
        if (!(err instanceof ApiError && err.status === 401 && err.code === "NOT_AUTHORIZED")) throw err;
      }
      const doc = await loginCeremony();
      await afterAuthStep(doc);
    },
    { cancelled: "Cancelled — you're not signed in. Nothing was changed." },
  );
}

function onSecondFactor() {
  run(
    async () => {
      const doc = await loginCeremony();
      await afterAuthStep(doc);
    },
    { cancelled: "Cancelled — you're not signed in yet. Use the button to try again." },
  );
}

function onSecondFactorBack() {
  run(async () => {
    await api.del(`${AUTH}/flow`);
    $("password").value = "";
    signingInAs(null);
    setView("signin");
  });
}

// ---------------------------------------------------------------- sign up

function onSignupSubmit(event) {
  event.preventDefault();
  run(
    async () => {
      await stopConditional();
      const username = $("signup-username").value.trim();
      const displayName = $("signup-displayname").value.trim();
      if (!username) {
        showError("Choose a username.");
        $("signup-username").focus();
        return;
      }
      await api.post(`${SIGNUP}/passkey-signup/select`, {});
      const userData = displayName ? { username, displayName } : { username };
      await api.post(`${SIGNUP}/user-data/continue`, userData);
      const challenge = await api.post(`${SIGNUP}/fido/registration/challenge/retrieve`, {});
      const options = challenge.data.attributes.publicKeyCredentialCreationOptions;
      rememberUser(options.user);
      // No abort endpoint exists for sign-up: a cancel just leaves the step waiting.
      const credential = await webauthn.create(options);
      await api.post(`${SIGNUP}/fido/registration/attestation-response/check`, {
        publicKeyCredential: credential,
      });
      $("signup-username").value = "";
      $("signup-displayname").value = "";
      await enterAccount();
      showStatus("Your account is ready and protected by your new passkey.");
    },
    { cancelled: "Cancelled — no account was created." },
  );
}

// ---------------------------------------------------------------- the account

async function enterAccount() {
  const session = await api.get(`${AUTH}/session`);
  const attributes = session?.data?.attributes || {};
  if (!attributes.authenticated) {
    signedOut();
    setView("signin");
    return;
  }
  state.username = attributes.username;
  if (state.pendingHandle) {
    state.userId = state.pendingHandle;
    state.userIdOwner = state.username;
    state.pendingHandle = null;
  }
  if (state.userIdOwner && state.userIdOwner !== state.username) {
    state.userId = null;
    state.userIdOwner = null;
    state.displayName = null;
  }
  $("who").textContent = state.username;
  setView("account");
  await loadCredentials();
  await loadAccount();
}

async function loadCredentials({ focusId, focusClass } = {}) {
  const doc = await api.get(`${SELF}/fido/credentials`);
  state.credentials = Array.isArray(doc.data) ? doc.data : [];
  renderCredentials();
  if (focusId && focusClass) {
    const item = [...$("credentials").children].find((li) => li.dataset.id === focusId);
    const target = item?.querySelector(`button.${focusClass}`);
    (target || $("account-title")).focus();
  }
}

function renderCredentials() {
  const list = $("credentials");
  clear(list);
  $("credentials-empty").hidden = state.credentials.length > 0;
  const on = { rename: onRename, toggle: onToggle, delete: onDelete };
  state.credentials.forEach((credential, index) => list.append(credentialItem(credential, index, on)));
}

function credentialName(credential) {
  const a = credential.attributes || {};
  return a.displayName || a.authenticatorName || "this authenticator";
}

// ---- self-service flows

/** Starts a self-service flow (clearing a stale one); runs the step-up login when asked. */
async function selectFlow(flowId) {
  await api.del(`${SELF}/flow`);
  try {
    return await api.post(`${SELF}/flows/${encodeURIComponent(flowId)}/select`, {});
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403 && err.code === "NOT_AUTHORIZED")) throw err;
  }
  await stepUp();
  await api.del(`${SELF}/flow`);
  return api.post(`${SELF}/flows/${encodeURIComponent(flowId)}/select`, {});
}

/** The login is older than the flows allow: confirm with a passkey (fido-step-up). */
async function stepUp() {
  showStatus("For your security, confirm it's you with one of your passkeys or security keys.");
  try {
    await api.post(`${AUTH}/applications/fido-step-up/access`, {});
    return; // still satisfied
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401 && err.code === "NOT_AUTHORIZED")) throw err;
  }
  try {
    const doc = await loginCeremony();
    if (doc?.data?.attributes?.nextAuthStep) {
      throw new ApiError({ code: "SIGN_IN_AGAIN", detail: "please sign out and sign in again to make this change" });
    }
  } catch (err) {
    if (err instanceof ApiError && err.code === "NO_VALID_TOKEN") {
      throw new ApiError({
        status: err.status,
        code: "SIGN_IN_AGAIN",
        detail: "for your security, sign out and sign in again before making this change",
      });
    }
    throw err;
  }
}

async function approvalCeremony() {
  const challenge = await api.post(`${SELF}/fido/approval/challenge/retrieve`, {});
  const options = challenge.data.attributes.publicKeyCredentialRequestOptions;
  let assertion;
  try {
    assertion = await webauthn.get(options);
  } catch (err) {
    await reportAbort(SELF, err);
    throw err;
  }
  return api.post(`${SELF}/fido/approval/assertion-response/check`, { publicKeyCredential: assertion });
}

async function registrationCeremony({ displayName, hints, attachment }) {
  const challenge = await api.post(
    `${SELF}/fido/registration/challenge/retrieve`,
    displayName ? { displayName } : {},
  );
  const options = challenge.data.attributes.publicKeyCredentialCreationOptions;
  rememberUser(options.user);
  let credential;
  try {
    credential = await webauthn.create(options, { hints, attachment });
  } catch (err) {
    await reportAbort(SELF, err, { registration: true });
    throw err;
  }
  return api.post(`${SELF}/fido/registration/attestation-response/check`, { publicKeyCredential: credential });
}

/** Runs a self-service flow to its end, answering each nextStep. */
async function runFlow(flowId, params = {}) {
  let doc = await selectFlow(flowId);
  try {
    for (let steps = 0; steps < 12; steps += 1) {
      const next = doc?.data?.attributes?.nextStep;
      if (!next) return doc;
      switch (next) {
        case "FIDO_CREDENTIAL_SELECTION_REQUIRED":
          doc = await api.post(`${SELF}/fido/credential/select`, { credentialId: params.credentialId });
          break;
        case "FIDO_DISPLAY_NAME_CHANGE_REQUIRED":
          doc = await api.post(`${SELF}/fido/display-name/change`, { displayName: params.displayName });
          break;
        case "FIDO_APPROVAL_CHALLENGE_RETRIEVAL_REQUIRED":
          showStatus("Confirm with one of your passkeys or security keys.");
          doc = await approvalCeremony();
          break;
        case "FIDO_REGISTRATION_CHALLENGE_RETRIEVAL_REQUIRED":
          doc = await registrationCeremony(params);
          break;
        default: {
          // The account steps are answered by account.js.
          const answered = params.step?.(next);
          if (!answered) {
            throw new ApiError({ code: "UNEXPECTED_STEP", detail: `the server asked for an unknown step (${next})` });
          }
          doc = await answered;
        }
      }
    }
    throw new ApiError({ code: "UNEXPECTED_STEP", detail: "the change did not finish" });
  } catch (err) {
    try {
      await api.del(`${SELF}/flow`);
    } catch {
      // best effort
    }
    throw err;
  }
}

async function signalCredentials() {
  if (!state.userId || state.userIdOwner !== state.username) return;
  await webauthn.signalAccepted({
    rpId: state.rpId,
    userId: state.userId,
    credentialIds: state.credentials.map((c) => c.id),
  });
}

async function signalUser() {
  if (!state.userId || state.userIdOwner !== state.username) return;
  await webauthn.signalUserDetails({
    rpId: state.rpId,
    userId: state.userId,
    name: state.username,
    displayName: state.displayName || state.username,
  });
}

// ---- the buttons

const EXCLUDED = {
  "security-key": "This security key is already registered to your account — nothing was changed. Use another key, or keep using this one.",
  passkey: "This device already has a passkey for your account — nothing was changed. You can already sign in with it here.",
};

/**
 * Registers a passkey or security key; false, after saying so, when the browser's
 * excludeCredentials found one of the account's credentials on the authenticator.
 */
async function register(kind, displayName) {
  const securityKey = kind === "security-key";
  try {
    await runFlow("fido-registration", {
      displayName,
      hints: securityKey ? ["security-key"] : ["client-device"],
      attachment: securityKey ? "cross-platform" : "platform",
    });
    return true;
  } catch (err) {
    if (!(err instanceof CeremonyRefused && err.kind === "InvalidStateError")) throw err;
    showError(EXCLUDED[kind]);
    $(`add-${kind}`).focus();
    return false;
  }
}

async function onAdd(kind) {
  if (operation) return;
  if (kind === "passkey") {
    await onAddPasskey();
    return;
  }
  const name = await nameDialog({
    title: "Add a security key",
    text: "Give the key a name you'll recognise, like “Blue YubiKey”. Then insert or tap it when asked.",
    ok: "Continue",
  });
  if (name === null) return;
  run(async () => {
    if (!(await register(kind, name))) return;
    await loadCredentials();
    showStatus(`Added “${name}”. You can now use it to sign in.`);
    $("add-security-key").focus();
  });
}

/**
 * A passkey on this device: the browser's prompt comes first, so that a device that already
 * holds one of the account's passkeys says so before anything is asked; then its name.
 */
async function onAddPasskey() {
  let added = null;
  await run(async () => {
    const before = new Set(state.credentials.map((c) => c.id));
    if (!(await register("passkey"))) return;
    await loadCredentials();
    added = state.credentials.find((c) => !before.has(c.id)) || null;
  });
  if (!added) return;
  const current = added.attributes?.displayName || "";
  const name = await nameDialog({
    title: "Name your new passkey",
    text: "Your passkey is ready. Give it a name you'll recognise, like “Work laptop”.",
    value: current,
    ok: "Save",
  });
  if (name === null || name === current) {
    showStatus(`Added “${current || "your passkey"}”. You can now use it to sign in.`);
    $("add-passkey").focus();
    return;
  }
  run(async () => {
    await runFlow("fido-credential-rename", { credentialId: added.id, displayName: name });
    await loadCredentials();
    showStatus(`Added “${name}”. You can now use it to sign in.`);
    $("add-passkey").focus();
  });
}

async function onRename(credential) {
  if (operation) return;
  const current = credentialName(credential);
  const name = await nameDialog({
    title: "Rename",
    text: `Choose a new name for “${current}”.`,
    value: credential.attributes?.displayName || "",
    ok: "Rename",
  });
  if (name === null) return;
  run(async () => {
    await runFlow("fido-credential-rename", { credentialId: credential.id, displayName: name });
    await loadCredentials({ focusId: credential.id, focusClass: "rename" });
    showStatus(`Renamed to “${name}”.`);
    await signalUser();
  });
}

async function onToggle(credential) {
  if (operation) return;
  const name = credentialName(credential);
  const enabled = !!credential.attributes?.enabled;
  if (enabled) {
    const ok = await confirmDialog({
      title: `Disable “${name}”?`,
      text: `You won't be able to sign in with “${name}” until you enable it again. You'll confirm this change with one of your passkeys or security keys.`,
      ok: "Disable",
      danger: true,
    });
    if (!ok) return;
  }
  run(async () => {
    await runFlow(enabled ? "fido-credential-disable" : "fido-credential-enable", { credentialId: credential.id });
    await loadCredentials({ focusId: credential.id, focusClass: "toggle" });
    showStatus(enabled ? `“${name}” is disabled.` : `“${name}” is enabled again.`);
  });
}

async function onDelete(credential) {
  if (operation) return;
  const name = credentialName(credential);
  const ok = await confirmDialog({
    title: `Delete “${name}”?`,
    text: `You won't be able to sign in with “${name}” any more. This can't be undone. You'll confirm with one of your passkeys or security keys.`,
    ok: "Delete",
    danger: true,
  });
  if (!ok) return;
  run(async () => {
    await runFlow("fido-credential-deletion", { credentialId: credential.id });
    await loadCredentials();
    $("account-title").focus();
    showStatus(`“${name}” was deleted.`);
    await signalCredentials();
  });
}

/** The account was deleted: its passkeys are gone from the password manager's view too. */
async function accountDeleted() {
  state.credentials = [];
  try {
    await signalCredentials();
  } catch {
    // best effort
  }
  signedOut();
  state.userId = null;
  state.userIdOwner = null;
  state.displayName = null;
  setView("signin");
}

function onSignout() {
  run(async () => {
    try {
      await api.post(`${AUTH}/logout`, {});
    } finally {
      signedOut();
      state.userId = null;
      state.userIdOwner = null;
      state.displayName = null;
    }
    conditionalInterrupted = false;
    disarmConditional();
    setView("signin");
    showStatus("You're signed out.");
  });
}

// ---------------------------------------------------------------- start

async function init() {
  $("password-form").addEventListener("submit", onPasswordSubmit);
  $("passkey-signin").addEventListener("click", onPasskeySignin);
  $("show-signup").addEventListener("click", () => {
    if (operation) return;
    clearMessages();
    stopConditional();
    setView("signup");
  });
  $("show-signin").addEventListener("click", () => {
    if (operation) return;
    clearMessages();
    setView("signin");
    if (conditionalInterrupted) armConditional();
  });
  $("fido-continue").addEventListener("click", onSecondFactor);
  $("second-factor-back").addEventListener("click", onSecondFactorBack);
  $("signup-form").addEventListener("submit", onSignupSubmit);
  $("add-passkey").addEventListener("click", () => onAdd("passkey"));
  $("add-security-key").addEventListener("click", () => onAdd("security-key"));
  $("signout").addEventListener("click", onSignout);
  // An account change (a password added or removed) changes what may be done with the passkeys
  // (changeRefusals): the list is read again afterwards while the account is shown.
  const runAndReload = (fn, options) =>
    run(async () => {
      await fn();
      if (currentView() === "account" && state.username) await loadCredentials().catch(() => {});
    }, options);
  setupAccount({ run: runAndReload, runFlow, approvalCeremony, busy: () => operation, leave: accountDeleted });

  if (!webauthn.available()) {
    $("passkey-signin").disabled = true;
    showError("This browser can't use passkeys. You can still sign in with a password.");
  }

  try {
    const session = await api.get(`${AUTH}/session`);
    if (session?.data?.attributes?.authenticated) {
      await enterAccount();
      return;
    }
    // A login left half-done (a reload at the second factor) would keep the autofill offer from
    // starting the password application afresh.
    await api.del(`${AUTH}/flow`);
  } catch (err) {
    showError(friendlyError(err));
  }
  setView("signin", { focus: false });
  startConditional();
}

api.busyStart();
bindBusy(api.onBusyChange);
init().finally(() => api.busyEnd());
