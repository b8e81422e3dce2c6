// The opened user's audit trail: newest first, a page at a time, filtered by event, outcome and
// date (the dates are the viewer's local days). Times, in the table and inside the details, are
// shown in the viewer's locale; a credential is named beside its id.

import { ADMIN, withQuery } from "./api.js";
import { $, el, clear, showError, timeEl } from "./ui.js";
import { PAGE_SIZE, call, run } from "./helpdesk-core.js";

/** The events a user's trail may hold, in the filter's menu. */
export const EVENTS = [
  "PASSWORD_CHECK",
  "FIDO_AUTHENTICATION",
  "FIDO_REGISTRATION",
  "FIDO_APPROVAL",
  "FIDO_ABORT",
  "SIGN_UP",
  "LOGOUT",
  "USER_LOCKED",
  "USER_UNLOCKED",
  "USER_CREATED",
  "USER_DELETED",
  "USER_IMPORTED",
  "USER_DISPLAY_NAME_CHANGED",
  "PASSWORD_CHANGED",
  "PASSWORD_REMOVED",
  "SESSIONS_ENDED",
  "CREDENTIAL_RENAMED",
  "CREDENTIAL_DISABLED",
  "CREDENTIAL_ENABLED",
  "CREDENTIAL_DELETED",
  "SIGN_COUNTER_REGRESSION",
  "TRANSACTION_VALIDATED",
  "ADMIN_ACCESS_DENIED",
];

const trail = { username: null, next: null, generation: 0, filter: {} };

/** An RFC 3339 time inside a detail, such as "locked until 2026-12-04T10:00:00Z". */
const RFC3339 = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g;

/** The local day `value` (YYYY-MM-DD) starts, or the day after it starts, as RFC 3339. */
function dayStart(value, after = false) {
  if (!value) return undefined;
  const d = new Date(`${value}T00:00:00`);
  if (Number.isNaN(d.getTime())) return undefined;
  if (after) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

function auditPath(after) {
  return withQuery(`${ADMIN}/audit`, {
    username: trail.username,
    "filter[event]": trail.filter.event,
    "filter[outcome]": trail.filter.outcome,
    "filter[from]": dayStart(trail.filter.from),
    "filter[to]": dayStart(trail.filter.to, true),
    "page[size]": PAGE_SIZE,
    "page[after]": after,
  });
}

/** Loads the first page of `username`'s trail with the filters set. */
export async function loadAudit(username) {
  trail.username = username;
  trail.generation += 1;
  const generation = trail.generation;
  const doc = await call("GET", auditPath());
  if (generation !== trail.generation) return;
  clear($("audit").tBodies[0]);
  appendAudit(doc);
}

function cell(cls, label, ...content) {
  return el("td", { class: cls, attrs: { "data-label": label } }, ...content);
}

/** The detail's text with each RFC 3339 time shown in the viewer's locale. */
function localised(detail) {
  const parts = [];
  let last = 0;
  for (const match of detail.matchAll(RFC3339)) {
    parts.push(detail.slice(last, match.index), timeEl(match[0], { precise: true, fallback: match[0] }));
    last = match.index + match[0].length;
  }
  parts.push(detail.slice(last));
  return parts.filter((p) => p !== "");
}

/** "Success", "Failure", or for a state rather than an attempt (USER_LOCKED) the state. */
function outcomeOf(a) {
  if (a.event === "USER_LOCKED") return el("span", { class: "badge danger", text: "Locked" });
  const text = a.outcome === "success" ? "Success" : a.outcome === "failure" ? "Failure" : a.outcome || "";
  return el("span", { class: `outcome-${a.outcome}`, text });
}

function credentialLine(a) {
  if (!a.credentialId) return null;
  return el(
    "div",
    { class: "credential-ref muted" },
    a.credentialName ? el("span", { class: "credential-name", text: `“${a.credentialName}” ` }) : "deleted credential ",
    el("span", { class: "mono credential-id", text: a.credentialId }),
  );
}

function appendAudit(doc) {
  const body = $("audit").tBodies[0];
  const events = Array.isArray(doc.data) ? doc.data : [];
  for (const event of events) {
    const a = event.attributes || {};
    body.append(
      el(
        "tr",
        { class: "event", dataset: { id: event.id, event: a.event || "" } },
        cell("time", "Time", timeEl(a.time, { precise: true })),
        cell("event", "Event", a.event || ""),
        cell("actor", "Actor", a.actor || ""),
        cell("outcome", "Outcome", outcomeOf(a)),
        cell("detail", "Detail", ...localised(a.detail || ""), credentialLine(a)),
        cell("address", "Address", a.remoteAddress || "—"),
        cell("user-agent", "User agent", a.userAgent || "—"),
      ),
    );
  }
  trail.next = doc.meta?.page?.next ?? null;
  $("audit-more").hidden = !trail.next;
  $("audit-empty").hidden = body.rows.length > 0;
  $("audit-empty").textContent = Object.values(trail.filter).some(Boolean)
    ? "No events match these filters."
    : "No events recorded for this user.";
}

function onMore() {
  run(async () => {
    const generation = trail.generation;
    const doc = await call("GET", auditPath(trail.next));
    if (generation !== trail.generation) return;
    appendAudit(doc);
  });
}

function readFilter() {
  return {
    event: $("audit-event").value || undefined,
    outcome: $("audit-outcome").value || undefined,
    from: $("audit-from").value || undefined,
    to: $("audit-to").value || undefined,
  };
}

function onFilter(event) {
  event.preventDefault();
  const filter = readFilter();
  if (filter.from && filter.to && filter.from > filter.to) {
    showError("The “from” date is after the “to” date.");
    $("audit-from").focus();
    return;
  }
  trail.filter = filter;
  run(() => loadAudit(trail.username));
}

function onReset() {
  $("audit-filter").reset();
  trail.filter = {};
  run(() => loadAudit(trail.username));
}

/** A new user: the filters start empty. */
export function resetFilter() {
  $("audit-filter").reset();
  trail.filter = {};
}

export function init() {
  const select = $("audit-event");
  for (const name of EVENTS) select.append(el("option", { text: name, attrs: { value: name } }));
  $("audit-filter").addEventListener("submit", onFilter);
  $("audit-reset").addEventListener("click", onReset);
  $("audit-more").addEventListener("click", onMore);
}
