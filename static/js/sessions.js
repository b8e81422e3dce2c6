// The account's active sessions in the portal: where the account is signed in (device, address,
// last seen), "Sign out" for each other session (flow session-sign-out, answering
// SESSION_SELECTION_REQUIRED) and "Sign out everywhere else" (flow sessions-sign-out-others).
// account.js places the card and passes the portal's hooks.

import * as api from "./api.js";
import { SELF } from "./api.js";
import { $, el, clear, showStatus, confirmDialog, timeEl, formatDateTime } from "./ui.js";

let hooks = null; // { run, runFlow, busy, activity }

/** The sessions card, empty until `loadSessions` fills it. */
export function sessionsCard(portal) {
  hooks = portal;
  const card = el(
    "div",
    { class: "card", attrs: { "aria-labelledby": "sessions-title" } },
    el("div", { class: "section-head" }, el("h2", { text: "Where you're signed in", attrs: { id: "sessions-title", tabindex: "-1" } })),
    el("ul", { class: "sessions", attrs: { id: "sessions", "aria-labelledby": "sessions-title" } }),
    el(
      "div",
      { class: "actions" },
      el("button", {
        class: "secondary",
        type: "button",
        text: "Sign out everywhere else",
        attrs: { id: "sessions-sign-out-others", "aria-describedby": "sessions-alone" },
        disabled: true,
      }),
    ),
    el("p", { class: "hint", hidden: true, text: "You're not signed in anywhere else.", attrs: { id: "sessions-alone" } }),
  );
  card.querySelector("#sessions-sign-out-others").addEventListener("click", onSignOutOthers);
  return card;
}

/** Reads the account's sessions and shows them. */
export async function loadSessions() {
  const list = $("sessions");
  if (!list) return;
  const doc = await api.get(`${SELF}/sessions`);
  const sessions = Array.isArray(doc.data) ? doc.data : [];
  clear(list);
  for (const s of sessions) list.append(sessionItem(s.id, s.attributes || {}));
  const others = sessions.filter((s) => !s.attributes?.current).length;
  $("sessions-sign-out-others").disabled = others === 0;
  $("sessions-alone").hidden = others > 0;
}

function deviceName(a) {
  return a.device || "Unknown device";
}

function sessionItem(id, a) {
  const name = deviceName(a);
  const seen = a.current
    ? el("span", { class: "when muted", text: "Active now" })
    : el("span", { class: "when muted" }, "Last seen ", timeEl(a.lastSeenAt));
  const where = el(
    "span",
    { class: "where muted" },
    a.remoteAddress ? `${a.remoteAddress} · ` : "",
    "signed in ",
    timeEl(a.signedInAt),
  );
  const signOut = a.current
    ? null
    : el("button", {
        class: "secondary",
        type: "button",
        text: "Sign out",
        attrs: { "aria-label": `Sign out ${name}, last seen ${formatDateTime(a.lastSeenAt)}` },
      });
  signOut?.addEventListener("click", () => onSignOut(id, name));
  return el(
    "li",
    { class: "session-item", dataset: { sessionId: id, current: a.current ? "true" : "false" } },
    el(
      "div",
      { class: "session-main" },
      el("span", { class: "what", text: name, attrs: { title: a.userAgent || "" } }),
      a.current ? el("span", { class: "badge ok", text: "This device" }) : null,
      seen,
      where,
    ),
    signOut,
  );
}

function onSignOut(id, name) {
  if (hooks.busy()) return;
  hooks.run(async () => {
    await hooks.runFlow("session-sign-out", {
      step: (next) => (next === "SESSION_SELECTION_REQUIRED" ? api.post(`${SELF}/session/select`, { sessionId: id }) : null),
    });
    await Promise.all([loadSessions(), hooks.activity()]);
    $("sessions-title").focus();
    showStatus(`${name} is signed out.`);
  });
}

async function onSignOutOthers() {
  if (hooks.busy()) return;
  const ok = await confirmDialog({
    title: "Sign out everywhere else?",
    text: "Every other browser and device signed in to your account is signed out. This one stays signed in.",
    ok: "Sign out everywhere else",
  });
  if (!ok) return;
  hooks.run(async () => {
    await hooks.runFlow("sessions-sign-out-others", {});
    await Promise.all([loadSessions(), hooks.activity()]);
    $("sessions-title").focus();
    showStatus("You're signed out everywhere else.");
  });
}
