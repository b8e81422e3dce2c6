// The first ten minutes: the bare binary, started in an empty directory with nothing set but the
// port, prints the address to open; Chromium, sent to the address the log named first
// (127.0.0.1, which no passkey can belong to), lands on the printed one and reaches a working
// passkey sign-up there without anything else configured. The same bare server shows its two
// first-run messages: the helpdesk page says no admin token is configured, and a page opened at an
// address the server does not accept says which it was and which one to open.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { assert, freePort, launchBrowser, openPage, portalMissing, screenshot, sleep } from './harness.mjs';
import { assertNoMessage, signUpWithPasskey } from './portal.mjs';

const JOURNEY = { timeout: 60_000, skip: portalMissing() };

let browser;
let server;

/** The binary with only FIDOFLOW_BIND set, in an empty working directory; waits for `open URL`. */
async function startBare() {
  const bin = resolve(process.env.FIDOFLOW_BIN);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fidoflow-first-run-'));
  const child = spawn(bin, [], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, RUST_LOG: 'info', FIDOFLOW_BIND: `127.0.0.1:${port}` },
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 20_000;
  let printed = null;
  while (!printed) {
    printed = /\bopen (http:\/\/[^\s"]+)/.exec(output)?.[1] ?? null;
    if (child.exitCode !== null) throw new Error(`fidoflow exited at start:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`fidoflow printed no address to open within 20 s:\n${output}`);
    }
    await sleep(50);
  }
  return {
    port,
    printed,
    origin: printed.replace(/\/$/, ''),
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

before(async () => {
  server = await startBare();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the address the bare binary prints reaches a working passkey sign-up', JOURNEY, async () => {
  assert.equal(server.printed.replace(/\/$/, ''), `http://localhost:${server.port}`, server.log());
  const p = await openPage(browser, server);
  try {
    // The address a newcomer may try first is sent on to the printed one.
    await p.page.goto(`http://127.0.0.1:${server.port}/`);
    assert.equal(new URL(p.page.url()).origin, server.origin, 'an IP address is redirected');
    await signUpWithPasskey(p, 'newcomer', 'New Comer', () => screenshot(p.page, 'first-run-sign-up'));
    await assertNoMessage(p, 'after the first sign-up');
    p.assertClean('the first run');
  } finally {
    await p.close();
  }
});

/** Waits until the page's text says `needle`, and returns that text. */
async function waitForText(page, needle) {
  await page.waitForFunction((n) => document.body.innerText.includes(n), needle);
  return page.evaluate(() => document.body.innerText);
}

test('the helpdesk page of a server without an admin token says so', JOURNEY, async () => {
  const p = await openPage(browser, server, { authenticator: null });
  try {
    await p.page.goto('/helpdesk');
    await p.page.fill('#token', 'x'.repeat(40));
    await p.page.click('#token-set');
    const text = await waitForText(p.page, 'No admin token is configured on this server');
    assert.ok(text.includes('FIDOFLOW_ADMIN_TOKEN'), text);
    assert.ok(!/not accepted/i.test(text), `the page must not say the token was not accepted:\n${text}`);
    p.assertClean('the helpdesk page');
  } finally {
    await p.close();
  }
});

test('a page opened at an address the server does not accept says which to open', JOURNEY, async () => {
  // other.test reaches the same server, but it is no origin of it (and no IP: not redirected).
  const elsewhere = await launchBrowser({ args: ['--host-resolver-rules=MAP other.test 127.0.0.1'] });
  const opened = `http://other.test:${server.port}`;
  const p = await openPage(elsewhere, { ...server, origin: opened });
  try {
    await p.page.goto('/');
    await p.page.click('#show-signup');
    await p.page.fill('#signup-username', 'lost');
    await p.page.fill('#signup-displayname', 'Lost Visitor');
    await p.page.click('#signup-submit');
    const text = await waitForText(p.page, 'but the server only accepts');
    assert.ok(text.includes(opened), `the message names the address opened:\n${text}`);
    assert.ok(text.includes(server.origin), `the message names the address to open:\n${text}`);
    assert.ok(/FIDOFLOW_ORIGINS|relying_party\.origins/.test(text), `and what to set:\n${text}`);
    assert.ok(server.log().includes(opened), 'the refused Origin is in the log');
  } finally {
    await p.close();
    await elsewhere.close();
  }
});
