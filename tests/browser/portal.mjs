// What the journeys do on the portal (`/`) and the helpdesk page (`/helpdesk`), through the DOM
// contract only: ids, classes and `data-state`/`data-busy` on <body>. Every wait fails with a
// message that says what was expected and what the page showed instead.

import { assert, STEP_TIMEOUT } from './harness.mjs';

/** The AAGUID of Chromium's virtual authenticators (a journey may name it in the operator's table). */
export const VIRTUAL_AAGUID = '01020304-0506-0708-0102-030405060708';

/** No part of the page is wider than the window: nothing scrolls sideways. */
export async function assertFits(p, what) {
  const { scroll, width } = await p.page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `${what} is ${scroll}px wide in a ${width}px window\n${await describe(p)}`);
}

/** What the page shows right now, for failure messages. */
export async function describe(p) {
  const view = await p.page.evaluate(() => ({
    url: location.pathname,
    state: document.body?.dataset.state ?? null,
    busy: document.body?.dataset.busy ?? null,
    message: document.querySelector('#message')?.textContent.trim() ?? '(no #message)',
    status: document.querySelector('#status')?.textContent.trim() ?? '(no #status)',
  })).catch((e) => ({ error: e.message }));
  const calls = p.requests.slice(-8).map((r) => `${r.method} ${r.path} ${r.body ?? ''}`.trim());
  return `page: ${JSON.stringify(view)}\nlast REST calls:\n  ${calls.join('\n  ')}\n`
    + `problems so far: ${JSON.stringify(p.problems)}`;
}

/** Waits until `fn(arg)` is truthy in the page; fails naming `what` and the page's state. */
export async function waitUntil(p, what, fn, arg, timeout = STEP_TIMEOUT) {
  try {
    await p.page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (e) {
    throw new Error(`waiting for ${what}: ${e.message.split('\n')[0]}\n${await describe(p)}`);
  }
}

/** The portal shows `state` (body[data-state]) and no request is running. */
export async function waitState(p, state, timeout = STEP_TIMEOUT) {
  await waitUntil(
    p,
    `the portal to show data-state="${state}" and not be busy`,
    (s) => document.body?.dataset.state === s && document.body?.dataset.busy !== 'true',
    state,
    timeout,
  );
}

/** One of `states`; returns which. */
export async function waitAnyState(p, states, timeout = STEP_TIMEOUT) {
  await waitUntil(
    p,
    `the portal to show one of ${states.join(', ')}`,
    (ss) => ss.includes(document.body?.dataset.state) && document.body?.dataset.busy !== 'true',
    states,
    timeout,
  );
  return p.page.evaluate(() => document.body.dataset.state);
}

export async function waitNotBusy(p) {
  await waitUntil(p, 'the page not to be busy', () => document.body?.dataset.busy !== 'true');
}

export async function text(p, selector) {
  return (await p.page.locator(selector).first().textContent())?.trim() ?? '';
}

export async function waitText(p, selector, expected) {
  await waitUntil(
    p,
    `${selector} to read ${JSON.stringify(expected)}`,
    ([sel, want]) => document.querySelector(sel)?.textContent.trim() === want,
    [selector, expected],
  );
}

export async function waitCount(p, selector, n) {
  await waitUntil(
    p,
    `${n} element(s) matching ${selector}`,
    ([sel, want]) => document.querySelectorAll(sel).length === want,
    [selector, n],
  );
}

export async function waitVisible(p, selector) {
  try {
    await p.page.locator(selector).waitFor({ state: 'visible' });
  } catch (e) {
    throw new Error(`waiting for ${selector} to be visible: ${e.message.split('\n')[0]}\n${await describe(p)}`);
  }
}

export async function waitHidden(p, selector) {
  try {
    await p.page.locator(selector).waitFor({ state: 'hidden' });
  } catch (e) {
    throw new Error(`waiting for ${selector} to close: ${e.message.split('\n')[0]}\n${await describe(p)}`);
  }
}

/** The error line (#message) is empty. */
export async function assertNoMessage(p, when) {
  const message = await text(p, '#message');
  assert.equal(message, '', `${when}: #message shows an error\n${await describe(p)}`);
}

/** The REST calls the page made, as `METHOD path`, optionally only those whose path ends so. */
export function calls(p, pathEnd) {
  return p.requests.filter((r) => !pathEnd || r.path.replace(/\/$/, '').endsWith(pathEnd));
}

/** The page asked the server for a conditional-mediation challenge. */
export function conditionalRetrievals(p) {
  return calls(p, '/rest/public/authentication/fido/challenge/retrieve').filter((r) => {
    try { return JSON.parse(r.body || '{}').mediation === 'conditional'; } catch { return false; }
  });
}

/** Answers the name dialog (asked on add and rename). */
export async function answerNameDialog(p, name, screenshotAs) {
  await waitVisible(p, '#name-dialog');
  if (screenshotAs) await screenshotAs();
  await p.page.fill('#name-input', name);
  await p.page.click('#name-ok');
  await waitHidden(p, '#name-dialog');
}

export async function confirmDialog(p, expectInText) {
  await waitVisible(p, '#confirm-dialog');
  if (expectInText) {
    const said = await text(p, '#confirm-text');
    assert.ok(said.includes(expectInText), `#confirm-text should name ${JSON.stringify(expectInText)}, says ${JSON.stringify(said)}`);
  }
  await p.page.click('#confirm-ok');
  await waitHidden(p, '#confirm-dialog');
}

/** The credential item of the portal or helpdesk list with this display name. */
export function credentialNamed(p, listSelector, name) {
  return p.page.locator(`${listSelector} li.credential`).filter({
    has: p.page.locator('.name', { hasText: name }),
  });
}

/** Signs up `username` with a passkey on the portal and waits for the account view. */
export async function signUpWithPasskey(p, username, displayName, screenshotAs) {
  await p.page.goto('/');
  await waitState(p, 'signin');
  await p.page.click('#show-signup');
  await waitState(p, 'signup');
  await p.page.fill('#signup-username', username);
  await p.page.fill('#signup-displayname', displayName);
  if (screenshotAs) await screenshotAs();
  await p.page.click('#signup-submit');
  await waitState(p, 'account');
  await waitCount(p, '#credentials li.credential', 1);
}

/** Turns the virtual authenticator's automatic presence (its "touch") on or off. */
export async function setPresence(p, authenticatorId, enabled) {
  await p.cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
}
