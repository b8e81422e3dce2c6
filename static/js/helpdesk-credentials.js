// One authenticator of a user as the helpdesk sees it: name, state, model and the details,
// with Disable/Enable and Delete.

import { el, timeEl, transportsText, syncText, modelText, credentialIcon, stateText } from "./ui.js";

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

export function credentialName(credential) {
  const a = credential.attributes || {};
  return a.displayName || a.authenticatorName || "this authenticator";
}

export function credentialItem(credential, index, { onToggle, onDelete }) {
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
  const state = a.enabled ? "Enabled" : a.disabledBy === "user" ? "Disabled by the user" : stateText(a);
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
