// WebAuthn helpers: parse the server's JSON options, run the ceremony, return credential.toJSON().
// A cancel or timeout in the browser becomes a CeremonyCancelled (with the contract's abort
// reason) so pages can tell it apart from a refusal by the server.

/** The browser ended the ceremony without an answer: the person cancelled, or it timed out. */
export class CeremonyCancelled extends Error {
  constructor(reason, cause) {
    super(reason === "TIMEOUT" ? "the passkey prompt timed out" : "the passkey prompt was cancelled");
    this.name = "CeremonyCancelled";
    /** "NOT_ALLOWED" | "ABORTED" | "TIMEOUT" | "WEB_AUTHN_NOT_AVAILABLE" — the /fido/abort reason. */
    this.reason = reason;
    this.cause = cause;
  }
}

/** The browser refused for a reason of its own (e.g. the authenticator is already registered). */
export class CeremonyRefused extends Error {
  constructor(kind, cause) {
    super(cause?.message || kind);
    this.name = "CeremonyRefused";
    this.kind = kind; // the DOMException name, e.g. "InvalidStateError"
    this.cause = cause;
  }
}

export function available() {
  return (
    typeof window.PublicKeyCredential === "function" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
    !!navigator.credentials
  );
}

/** True when the browser can offer passkeys in the username field (conditional mediation). */
export async function conditionalAvailable() {
  try {
    return (
      available() &&
      typeof PublicKeyCredential.isConditionalMediationAvailable === "function" &&
      (await PublicKeyCredential.isConditionalMediationAvailable()) === true
    );
  } catch {
    return false;
  }
}

function notAvailable() {
  return new CeremonyCancelled("WEB_AUTHN_NOT_AVAILABLE");
}

/** Maps what navigator.credentials threw; `started` and `timeout` tell a timeout from a cancel. */
function translate(err, started, timeout, signal) {
  if (err instanceof CeremonyCancelled || err instanceof CeremonyRefused) return err;
  const name = err?.name;
  if (name === "AbortError" || signal?.aborted) return new CeremonyCancelled("ABORTED", err);
  if (name === "NotAllowedError") {
    const elapsed = performance.now() - started;
    const timedOut = typeof timeout === "number" && timeout > 0 && elapsed >= timeout - 1000;
    return new CeremonyCancelled(timedOut ? "TIMEOUT" : "NOT_ALLOWED", err);
  }
  if (name === "TimeoutError") return new CeremonyCancelled("TIMEOUT", err);
  if (name === "NotSupportedError" || name === "SecurityError") {
    return new CeremonyRefused(name, err);
  }
  if (name === "InvalidStateError") return new CeremonyRefused(name, err);
  return new CeremonyRefused(name || "Error", err);
}

function toJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  throw new CeremonyRefused("NotSupportedError", new Error("credential.toJSON() is missing"));
}

/**
 * Registration. `creationOptionsJSON` is the server's publicKeyCredentialCreationOptions.
 * `hints`: ["security-key"] or ["client-device"]; `attachment`: "cross-platform" | "platform".
 * Returns RegistrationResponseJSON.
 */
export async function create(creationOptionsJSON, { hints, attachment, signal } = {}) {
  if (!available()) throw notAvailable();
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(creationOptionsJSON);
  if (hints && hints.length) publicKey.hints = hints;
  if (attachment) {
    publicKey.authenticatorSelection = {
      ...(publicKey.authenticatorSelection || {}),
      authenticatorAttachment: attachment,
    };
  }
  const started = performance.now();
  try {
    const credential = await navigator.credentials.create({ publicKey, signal });
    if (!credential) throw new CeremonyCancelled("NOT_ALLOWED");
    return toJSON(credential);
  } catch (err) {
    throw translate(err, started, publicKey.timeout, signal);
  }
}

/**
 * Authentication (modal, or conditional with `mediation: "conditional"`).
 * Returns AuthenticationResponseJSON.
 */
export async function get(requestOptionsJSON, { mediation, signal, hints } = {}) {
  if (!available()) throw notAvailable();
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(requestOptionsJSON);
  if (hints && hints.length) publicKey.hints = hints;
  const options = { publicKey };
  if (mediation) options.mediation = mediation;
  if (signal) options.signal = signal;
  const started = performance.now();
  try {
    const credential = await navigator.credentials.get(options);
    if (!credential) throw new CeremonyCancelled("NOT_ALLOWED");
    return toJSON(credential);
  } catch (err) {
    throw translate(err, started, mediation === "conditional" ? 0 : publicKey.timeout, signal);
  }
}

/** The user handle (b64url) of an AuthenticationResponseJSON, when the authenticator sent one. */
export function userHandleOf(assertionJSON) {
  const h = assertionJSON?.response?.userHandle;
  return typeof h === "string" && h ? h : null;
}

/**
 * Tell the browser's passkey manager which credentials still exist for this user. Feature
 * detected; silently skipped without a user id or support.
 */
export async function signalAccepted({ rpId, userId, credentialIds }) {
  try {
    if (!userId || !rpId) return;
    if (typeof window.PublicKeyCredential?.signalAllAcceptedCredentials !== "function") return;
    await PublicKeyCredential.signalAllAcceptedCredentials({
      rpId,
      userId,
      allAcceptedCredentialIds: credentialIds,
    });
  } catch {
    // A hint to the passkey manager; nothing to tell the person if it is not taken.
  }
}

/** Tell the passkey manager the user's current name and display name. */
export async function signalUserDetails({ rpId, userId, name, displayName }) {
  try {
    if (!userId || !rpId || !name) return;
    if (typeof window.PublicKeyCredential?.signalCurrentUserDetails !== "function") return;
    await PublicKeyCredential.signalCurrentUserDetails({
      rpId,
      userId,
      name,
      displayName: displayName || name,
    });
  } catch {
    // See above.
  }
}
