// The fidoflow REST contract (see API.md): a fetch wrapper that follows the CSRF rules, parses
// JSON:API documents and turns error documents into ApiError (code, detail, status, meta).
//
// Calls of one browser session are serialised: the server answers 400 CONCURRENT_ACCESS to a
// request that arrives while another request of the same session is still running.

export const AUTH = "/rest/public/authentication";
export const SIGNUP = "/rest/public/user-self-registration";
export const SELF = "/rest/protected/self-service";
export const ADMIN = "/rest/admin";

/** A refusal from the server (a JSON:API error document), or a network/format problem. */
export class ApiError extends Error {
  constructor({ status = 0, code = "UNKNOWN", detail = "", meta = {} } = {}) {
    super(detail || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.meta = meta || {};
  }

  /** The next step the server asks for after this error (nextStep or nextAuthStep), if any. */
  get next() {
    return this.meta.nextStep || this.meta.nextAuthStep || null;
  }
}

// ---- busy tracking: body[data-busy] is "true" while any request (or operation) runs ----

let busyCount = 0;
const busyListeners = new Set();

export function onBusyChange(listener) {
  busyListeners.add(listener);
  listener(busyCount > 0);
}

export function busyStart() {
  busyCount += 1;
  if (busyCount === 1) busyListeners.forEach((l) => l(true));
}

export function busyEnd() {
  busyCount = Math.max(0, busyCount - 1);
  if (busyCount === 0) busyListeners.forEach((l) => l(false));
}

/** Runs `fn` with the page marked busy. */
export async function withBusy(fn) {
  busyStart();
  try {
    return await fn();
  } finally {
    busyEnd();
  }
}

// ---- the request queue ----

let queue = Promise.resolve();

function enqueue(task) {
  const run = queue.then(task, task);
  // Keep the chain alive whatever the outcome of this task.
  queue = run.catch(() => undefined);
  return run;
}

async function parse(response) {
  const text = await response.text();
  let doc = null;
  if (text) {
    try {
      doc = JSON.parse(text);
    } catch {
      doc = null;
    }
  }
  if (response.ok) {
    return doc ?? {};
  }
  const first = doc && Array.isArray(doc.errors) && doc.errors[0] ? doc.errors[0] : null;
  throw new ApiError({
    status: response.status,
    code: first?.code || `HTTP_${response.status}`,
    detail: first?.detail || response.statusText || "",
    meta: doc?.meta || {},
  });
}

async function send(url, init) {
  busyStart();
  try {
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError({ status: 0, code: "NETWORK", detail: String(err?.message || err) });
    }
    return await parse(response);
  } finally {
    busyEnd();
  }
}

/**
 * A call under /rest/public or /rest/protected: same-origin cookies, X-Same-Domain, JSON.
 * Returns the parsed success document; throws ApiError on a refusal.
 */
export function request(method, path, body) {
  const init = {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: {
      "X-Same-Domain": "1",
      "Content-Type": "application/json",
      Accept: "application/json",
    },
  };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
  } else if (method === "POST") {
    init.body = "{}";
  }
  return enqueue(() => send(path, init));
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body ?? {});
export const del = (path) => request("DELETE", path);

/**
 * A helpdesk call under /rest/admin: bearer token, no cookies and no X-Same-Domain.
 */
export function admin(token, method, path, body) {
  const init = {
    method,
    credentials: "omit",
    cache: "no-store",
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: "application/json",
    },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return send(path, init);
}

/** `/a/b?x=1` with query members (undefined/empty values left out). */
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
