// The portal's view of one of the signed-in user's authenticators: its name, model, state and
// metadata, and the actions the server would accept. An action the server would refuse (the only
// way left to sign in, a key the helpdesk disabled) is shown disabled with the reason in words,
// tied to the button by aria-describedby, instead of failing after a confirmation.

import { el, timeEl, transportsText, syncText, credentialIcon, stateText } from "./ui.js";

/**
 * The model as the portal words it: "iCloud Keychain", "YubiKey 5 Series — verified" (only when
 * the attestation was verified), or "Unknown model". What an authenticator merely claims about
 * itself is the helpdesk's concern (ui.js `modelText`), not the account owner's.
 */
export function portalModelText(a) {
  const name = a.authenticatorName;
  if (!name) return "Unknown model";
  return a.attestationTrusted ? `${name} — verified` : name;
}

const REASONS = {
  LAST_CREDENTIAL_WITHOUT_PASSWORD:
    "This is your only way to sign in: add another passkey or a password first.",
  LAST_CREDENTIAL: "This is your last enabled passkey or security key: add another one first.",
  DISABLED_BY_HELPDESK: "The helpdesk disabled this authenticator. Contact them to enable it again.",
};

/**
 * Why the server would refuse `action` ("delete", "disable", "enable") on this credential, in
 * words, or null. The self-service list names the refusals (`changeRefusals`); a key the helpdesk
 * disabled can never be enabled by its user.
 */
export function refusalText(a, action) {
  const code = a.changeRefusals?.[action]
    ?? (action === "enable" && !a.enabled && a.disabledBy === "helpdesk" ? "DISABLED_BY_HELPDESK" : null);
  if (!code) return null;
  return REASONS[code] || "The server does not allow this change for this authenticator.";
}

function metaRow(label, cls, value) {
  return el("div", { class: "meta-row" }, el("dt", { text: label }), el("dd", { class: cls }, value));
}

/** The `<li>` of one credential; `on.rename/toggle/delete(credential)` run the actions. */
export function credentialItem(credential, index, on) {
  const a = credential.attributes || {};
  const nameId = `credential-name-${index}`;
  const reasonId = `credential-refusal-${index}`;
  const name = a.displayName || a.authenticatorName || "Unnamed authenticator";
  const isKey = !a.backupEligible && Array.isArray(a.transports) && a.transports.some((t) => ["usb", "nfc", "ble", "smart-card"].includes(t));
  const stateClass = a.enabled ? "state badge ok" : "state badge off";
  const toggleAction = a.enabled ? "disable" : "enable";
  const toggleRefused = refusalText(a, toggleAction);
  const deleteRefused = refusalText(a, "delete");
  // One reason shown once: the refusals of delete and disable share it.
  const reason = deleteRefused || toggleRefused;
  const describedBy = (refused) => (refused ? `${nameId} ${reasonId}` : nameId);

  const rename = el("button", { class: "rename secondary small", type: "button", text: "Rename", attrs: { "aria-describedby": nameId } });
  const toggle = el("button", {
    class: "toggle secondary small",
    type: "button",
    text: a.enabled ? "Disable" : "Enable",
    disabled: !!toggleRefused,
    attrs: { "aria-describedby": describedBy(toggleRefused) },
  });
  const remove = el("button", {
    class: "delete danger-outline small",
    type: "button",
    text: "Delete",
    disabled: !!deleteRefused,
    attrs: { "aria-describedby": describedBy(deleteRefused) },
  });
  rename.addEventListener("click", () => on.rename(credential));
  toggle.addEventListener("click", () => on.toggle(credential));
  remove.addEventListener("click", () => on.delete(credential));

  return el(
    "li",
    { class: `credential${a.enabled ? "" : " is-disabled"}`, dataset: { id: credential.id } },
    credentialIcon(a, isKey ? "icon-usb" : "icon-passkey"),
    el(
      "div",
      { class: "credential-body" },
      el(
        "div",
        { class: "credential-title" },
        el("h3", { class: "name", text: name, attrs: { id: nameId } }),
        el("span", { class: stateClass, text: stateText(a) }),
      ),
      el("p", { class: "model", text: portalModelText(a) }),
      el(
        "dl",
        { class: "meta" },
        metaRow("Added", "created", timeEl(a.createdAt)),
        metaRow("Last used", "last-used", timeEl(a.lastUsedAt, { fallback: "Never" })),
        metaRow("Sync", "sync", syncText(a)),
        metaRow("Connects by", "transports", transportsText(a.transports)),
      ),
      reason ? el("p", { class: "note refusal", text: reason, attrs: { id: reasonId } }) : null,
    ),
    el("div", { class: "credential-actions" }, rename, toggle, remove),
  );
}
