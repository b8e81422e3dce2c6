// The harness of the real-browser tests: starts the real `fidoflow` binary on a free port with a
// fresh data directory, launches Debian's Chromium headless through playwright-core, gives each
// page a Chromium virtual authenticator (DevTools `WebAuthn` domain) and watches the page for
// errors, alerts and failed asset loads.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.FIDOFLOW_CHROMIUM || '/usr/bin/chromium';
/** Where screenshots go: the target directory's (tests/browser.rs passes CARGO_TARGET_DIR's). */
export const SCREENSHOTS = process.env.BROWSER_SCREENSHOTS_DIR || join(REPO, 'target', 'browser-screenshots');
export const PASSWORD = 'correct horse battery staple';
/** The pages under test: the repository's `static/`, or another build of them. */
export const STATIC_DIR = process.env.FIDOFLOW_BROWSER_STATIC_DIR || join(REPO, 'static');

/**
 * `false`, or why the pages' journeys cannot run: `static/` still holds the placeholder pages
 * (no `#signin` form in index.html, no `#token` field in helpdesk.html).
 */
export function portalMissing(page = 'index.html', marker = 'id="signin"') {
  const file = join(STATIC_DIR, page);
  if (!existsSync(file)) return `static/${page} does not exist`;
  return readFileSync(file, 'utf8').includes(marker)
    ? false
    : `static/${page} is still the placeholder (no ${marker}); merge the portal branch`;
}

/** How long one wait for the page may take before the test fails with a message. */
export const STEP_TIMEOUT = 15_000;

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** A port nobody listens on right now: listen on port 0, read it, close. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the real server. Returns `{origin, port, adminToken, bin, admin(), stop(), log()}`.
 * The binary comes from `FIDOFLOW_BIN` (the Rust test passes `CARGO_BIN_EXE_fidoflow`).
 *
 * `configToml`, when given, is written as `fidoflow.toml` in the fresh data directory and named
 * by `FIDOFLOW_CONFIG` (for what only the file can set, such as `[[tenants]]`); it may be a
 * function of `{origin, port}`, since the port is chosen here. The environment still wins.
 */
export async function startServer({ configToml } = {}) {
  assert.ok(process.env.FIDOFLOW_BIN, 'FIDOFLOW_BIN must name the fidoflow binary (cargo test sets it in tests/browser.rs)');
  // The server runs in its data directory: a relative FIDOFLOW_BIN is taken from here.
  const bin = resolve(process.env.FIDOFLOW_BIN);
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'fidoflow-browser-'));
  const adminToken = randomBytes(30).toString('base64url'); // 40 characters
  let configFile = null;
  if (configToml !== undefined) {
    configFile = join(dataDir, 'fidoflow.toml');
    const text = typeof configToml === 'function' ? configToml({ origin, port }) : configToml;
    writeFileSync(configFile, text);
  }
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    RUST_LOG: process.env.RUST_LOG || 'warn',
    FIDOFLOW_BIND: `127.0.0.1:${port}`,
    FIDOFLOW_ORIGINS: origin,
    FIDOFLOW_RP_ID: 'localhost',
    FIDOFLOW_DATA_DIR: dataDir,
    FIDOFLOW_FLOWS_DIR: join(REPO, 'flows'),
    FIDOFLOW_STATIC_DIR: STATIC_DIR,
    FIDOFLOW_ADMIN_TOKEN: adminToken,
    FIDOFLOW_RATE_LIMITS: 'off',
    FIDOFLOW_INSECURE_COOKIES: 'true',
    ...(configFile ? { FIDOFLOW_CONFIG: configFile } : {}),
  };
  const child = spawn(bin, [], { env, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      throw new Error(`fidoflow exited at start (${JSON.stringify(exited)}):\n${output}`);
    }
    try {
      const r = await fetch(`${origin}/rest/public/authentication/session`, {
        headers: { 'X-Same-Domain': '1' },
      });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`fidoflow did not answer on ${origin} within 20 s:\n${output}`);
    }
    await sleep(50);
  }

  async function admin(method, path, body, token = adminToken) {
    const r = await fetch(`${origin}/rest/admin${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: r.status, body: json };
  }

  async function stop() {
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }

  return { origin, port, adminToken, bin, admin, stop, log: () => output };
}

/** Creates a user through the admin API with the bootstrap token. */
export async function createUser(server, username, { displayName, password } = {}) {
  const r = await server.admin('POST', '/users', { username, displayName, password });
  assert.equal(r.status, 201, `creating ${username}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * Headless Debian Chromium; never a downloaded browser. Playwright gives it a fresh profile.
 * `args` are flags a journey needs beside the common ones.
 */
export async function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...args],
    timeout: 30_000,
  });
}

/**
 * A new browser context and page whose problems are recorded: uncaught page errors, console
 * errors, `alert()`/`confirm()` dialogs, assets that failed to load, and 5xx answers.
 * `assertClean()` fails the test on any of them.
 */
export async function openPage(browser, server, { authenticator = 'internal' } = {}) {
  const context = await browser.newContext({ baseURL: server.origin, viewport: { width: 1100, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  const consoleLines = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.stack || e.message}`));
  page.on('console', (m) => {
    const where = m.location()?.url || '';
    consoleLines.push(`${m.type()}: ${m.text()} (${where})`);
    // A refused REST call shows as "Failed to load resource: … 4xx"; the contract's refusals are
    // expected in these journeys. Everything else logged as an error is a problem.
    // Chromium also asks for /favicon.ico by itself when a page names no icon.
    const refusal = /^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())
      && (where.startsWith(`${server.origin}/rest/`) || where === `${server.origin}/favicon.ico`);
    if (m.type() === 'error' && !refusal) problems.push(`console error: ${m.text()} (${where})`);
  });
  page.on('dialog', async (d) => {
    problems.push(`a ${d.type()} dialog opened: ${JSON.stringify(d.message())}`);
    await d.dismiss().catch(() => {});
  });
  page.on('response', (r) => {
    const url = new URL(r.url());
    if (r.status() >= 500) problems.push(`${r.status()} from ${url.pathname}`);
    else if (r.status() >= 400 && !url.pathname.startsWith('/rest/')) {
      problems.push(`${r.status()} for the asset ${url.pathname}`);
    }
  });
  const requests = [];
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/rest/')) {
      requests.push({ method: r.method(), path: url.pathname, body: r.postData() });
    }
  });

  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  let authenticatorId = null;
  if (authenticator) authenticatorId = await addAuthenticator(cdp, authenticator);

  return {
    context,
    page,
    cdp,
    authenticatorId,
    problems,
    consoleLines,
    requests,
    assertClean(what = 'the page') {
      assert.deepEqual(problems, [], `${what} had problems:\n${problems.join('\n')}\nconsole:\n${consoleLines.join('\n')}`);
    },
    async close() {
      await context.close();
    },
  };
}

/**
 * A virtual CTAP2.1 authenticator with resident keys and user verification that always verifies
 * the user and simulates presence. `transport` 'internal' is a platform passkey, 'usb' a
 * security key.
 */
export async function addAuthenticator(cdp, transport = 'internal') {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport,
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return authenticatorId;
}

export async function credentialsOf(cdp, authenticatorId) {
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  return credentials;
}

/** Saves a full-page screenshot as <SCREENSHOTS>/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The server's state of the browser's session, asked from inside the page (its cookie). */
export async function sessionOf(page) {
  return page.evaluate(async () => {
    const r = await fetch('/rest/public/authentication/session', { headers: { 'X-Same-Domain': '1' } });
    return (await r.json()).data.attributes;
  });
}

export { assert, sleep };
