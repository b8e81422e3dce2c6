// The portal's account sections in headless Chromium with a virtual authenticator, at desktop
// and at phone width (390 px): a passkey-only account changes its display name, adds a password
// (approved with its passkey), signs in with it, changes it with the current password and
// removes it again (approved with its passkey); the password dialog refuses a short password
// beside its field; the recent security activity lists each change, newest first. An account is
// deleted after a passkey approval and the page signs out. An account signed in from three
// browsers lists them, signs one out, then every other one. A password-only account is deleted
// after its password.

import { after, before, test } from 'node:test';
import {
  assert, createUser, launchBrowser, openPage, PASSWORD, portalMissing, screenshot, sessionOf,
  startServer,
} from './harness.mjs';
import {
  answerNameDialog, assertFits, assertNoMessage, confirmDialog, signUpWithPasskey, text,
  waitCount, waitHidden, waitState, waitText, waitUntil, waitVisible,
} from './portal.mjs';

const JOURNEY = { timeout: 90_000, skip: portalMissing() };

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function user(username) {
  const r = await server.admin('GET', `/users/${username}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.attributes;
}

async function audit(username) {
  const r = await server.admin('GET', `/audit?username=${username}&page[size]=100`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.map((e) => e.attributes.event);
}

/** Fills and submits the password dialog. */
async function answerPasswordDialog(p, { current, password }) {
  await waitVisible(p, '#password-dialog');
  if (current !== undefined) await p.page.fill('#current-password-input', current);
  await p.page.fill('#new-password-input', password);
  await p.page.click('#password-dialog-ok');
}

for (const width of [1100, 390]) {
  test(`at ${width}px a passkey-only account names itself, adds, changes and removes a password`, JOURNEY, async () => {
    const username = `acct${width}`;
    const p = await openPage(browser, server);
    const { page } = p;
    try {
      await page.setViewportSize({ width, height: 900 });
      await signUpWithPasskey(p, username, 'First Name');
      await waitText(p, '#account-display-name', 'First Name');
      await waitText(p, '#password-state', 'You have no password: you sign in with your passkeys only.');
      await assertFits(p, 'the account view');
      await screenshot(page, `account-sections-${width}`);

      // The display name.
      await page.click('#account-rename');
      await answerNameDialog(p, 'Second Name');
      await waitText(p, '#account-display-name', 'Second Name');
      assert.equal((await user(username)).displayName, 'Second Name');

      // A password for the passkey-only account: too short first, refused beside its field.
      await page.click('#password-add');
      await waitVisible(p, '#password-dialog');
      assert.equal(await page.isVisible('#current-password-input'), false, 'no current password to give');
      await answerPasswordDialog(p, { password: 'short' });
      await waitText(p, '#password-dialog-error', 'A password has 8 to 1024 characters.');
      assert.equal(await page.getAttribute('#new-password-input', 'aria-invalid'), 'true');
      await assertFits(p, 'the password dialog');
      await screenshot(page, `account-password-dialog-${width}`);
      await page.fill('#new-password-input', PASSWORD);
      await page.click('#password-dialog-ok');
      await waitHidden(p, '#password-dialog');
      await waitText(p, '#password-state', 'You can sign in with your password (and your passkeys).');
      await assertNoMessage(p, 'after adding the password');
      assert.equal((await user(username)).hasPassword, true);

      // A change with the current password; a wrong one is refused in words.
      await page.click('#password-change');
      await answerPasswordDialog(p, { current: 'not my password', password: 'a newer password' });
      await waitHidden(p, '#password-dialog');
      await waitUntil(p, 'the wrong password refusal', () => /current password is wrong/i.test(document.getElementById('message').textContent));
      await page.click('#password-change');
      await answerPasswordDialog(p, { current: PASSWORD, password: 'a newer password' });
      await waitHidden(p, '#password-dialog');
      await waitUntil(p, 'the change confirmed', () => /password is changed/i.test(document.getElementById('status').textContent));
      await assertNoMessage(p, 'after changing the password');

      // The removal needs a passkey approval (the virtual authenticator answers it).
      await page.click('#password-remove');
      await confirmDialog(p, 'passkeys only');
      await waitText(p, '#password-state', 'You have no password: you sign in with your passkeys only.');
      await assertNoMessage(p, 'after removing the password');
      assert.equal((await user(username)).hasPassword, false);
      assert.ok(await page.isVisible('#password-add'), 'a password can be added again');

      // The recent activity names each change, newest first; the wrong password as a failure.
      await waitUntil(p, 'the removal first in the activity', () => document.querySelector('#activity li')?.dataset.event === 'PASSWORD_REMOVED');
      const activity = await page.$$eval('#activity li', (items) => items.map((li) => [li.dataset.event, li.classList.contains('failed'), li.querySelector('.what').textContent]));
      const shown = activity.map(([event]) => event);
      for (const e of ['PASSWORD_REMOVED', 'PASSWORD_CHANGED', 'PASSWORD_CHECK', 'USER_DISPLAY_NAME_CHANGED', 'SIGN_UP']) {
        assert.ok(shown.includes(e), `${e} in ${shown.join()}`);
      }
      const words = activity.map(([, , what]) => what);
      for (const w of ['Password removed', 'Password changed', 'Password added', 'Current password confirmed']) {
        assert.ok(words.includes(w), `${w} in ${words.join()}`);
      }
      assert.ok(activity.some(([event, failed, what]) => event === 'PASSWORD_CHECK' && failed && what === 'A wrong current password was given'), JSON.stringify(activity));
      await assertFits(p, 'the account view with its activity');
      await screenshot(page, `account-activity-${width}`);

      const events = await audit(username);
      for (const e of ['USER_DISPLAY_NAME_CHANGED', 'PASSWORD_CHANGED', 'PASSWORD_REMOVED']) {
        assert.ok(events.includes(e), `${e} in ${events.join()}`);
      }
      assert.equal(await text(p, '#who'), username);
      await waitState(p, 'account');
      p.assertClean(`the account journey at ${width}px`);
    } finally {
      await p.close();
    }
  });
}

for (const width of [1100, 390]) {
  test(`at ${width}px an account is deleted after a passkey approval and the page signs out`, JOURNEY, async () => {
    const username = `gone${width}`;
    const p = await openPage(browser, server);
    const { page } = p;
    try {
      await page.setViewportSize({ width, height: 900 });
      await signUpWithPasskey(p, username, 'Leaving Soon');
      await waitVisible(p, '#account-delete');
      await assertFits(p, 'the account view with its delete section');
      await page.click('#account-delete');
      await confirmDialog(p, username);
      await waitState(p, 'signin');
      await waitUntil(p, 'the deletion confirmed', () => /account was deleted/i.test(document.getElementById('status').textContent));
      await assertNoMessage(p, 'after deleting the account');
      await screenshot(page, `account-deleted-${width}`);
      assert.equal((await sessionOf(page)).authenticated, false, 'signed out on the server');
      const r = await server.admin('GET', `/users/${username}`);
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.ok((await audit(username)).includes('USER_DELETED'));
      p.assertClean(`the deletion journey at ${width}px`);
    } finally {
      await p.close();
    }
  });
}

/** Signs `username` in with the password in a new browser context; the portal shows the account. */
async function signedInPage(username) {
  const p = await openPage(browser, server);
  await p.page.goto('/');
  await waitState(p, 'signin');
  await p.page.fill('#username', username);
  await p.page.fill('#password', PASSWORD);
  await p.page.click('#password-signin');
  await waitState(p, 'account');
  return p;
}

for (const width of [1100, 390]) {
  test(`at ${width}px the account lists where it is signed in, signs one session out, then every other`, JOURNEY, async () => {
    const username = `sess${width}`;
    await createUser(server, username, { password: PASSWORD });
    const pages = [];
    try {
      pages.push(await signedInPage(username), await signedInPage(username));
      const [first, second] = pages;
      const p = await signedInPage(username);
      pages.push(p);
      const { page } = p;
      await page.setViewportSize({ width, height: 900 });

      // This session first, marked and without a sign-out button; the two others after it.
      await waitCount(p, '#sessions li.session-item', 3);
      const items = await page.$$eval('#sessions li.session-item', (lis) => lis.map((li) => ({
        current: li.dataset.current,
        device: li.querySelector('.what').textContent,
        badge: li.querySelector('.badge')?.textContent || null,
        button: li.querySelector('button')?.getAttribute('aria-label') || null,
        where: li.querySelector('.where').textContent,
        seen: li.querySelector('.when').textContent,
      })));
      assert.deepEqual(items.map((i) => i.current), ['true', 'false', 'false'], JSON.stringify(items));
      assert.equal(items[0].badge, 'This device');
      assert.equal(items[0].button, null, 'no sign-out button for this session');
      assert.equal(items[0].seen, 'Active now');
      for (const i of items) {
        assert.equal(i.device, 'Chrome on Linux', JSON.stringify(i));
        assert.ok(i.where.startsWith('127.0.0.1 · signed in '), JSON.stringify(i));
      }
      for (const i of items.slice(1)) {
        assert.ok(i.button.startsWith('Sign out Chrome on Linux, last seen '), JSON.stringify(i));
        assert.ok(i.seen.startsWith('Last seen '), JSON.stringify(i));
      }
      assert.equal(await page.isDisabled('#sessions-sign-out-others'), false);
      await assertFits(p, 'the sessions card');
      await screenshot(page, `account-sessions-${width}`);

      // One other session signs out; the other stays.
      const id = await page.getAttribute('#sessions li[data-current="false"] >> nth=0', 'data-session-id');
      await page.click(`#sessions li[data-session-id="${id}"] button`);
      await waitCount(p, '#sessions li.session-item', 2);
      await waitUntil(p, 'the sign-out confirmed', () => /Chrome on Linux is signed out/.test(document.getElementById('status').textContent));
      await assertNoMessage(p, 'after signing one session out');
      const states = [(await sessionOf(first.page)).authenticated, (await sessionOf(second.page)).authenticated];
      assert.deepEqual([...states].sort(), [false, true], 'exactly one of the others signed out');

      // Every other session signs out after a confirmation; this one stays.
      await page.click('#sessions-sign-out-others');
      await confirmDialog(p, 'This one stays signed in');
      await waitCount(p, '#sessions li.session-item', 1);
      await waitVisible(p, '#sessions-alone');
      assert.equal(await page.isDisabled('#sessions-sign-out-others'), true);
      await assertNoMessage(p, 'after signing out everywhere else');
      assert.equal((await sessionOf(first.page)).authenticated, false);
      assert.equal((await sessionOf(second.page)).authenticated, false);
      assert.equal((await sessionOf(page)).authenticated, true, 'this session stays');

      // The activity tells both apart.
      await waitUntil(p, 'the sign-outs in the activity', () => document.querySelectorAll('#activity li[data-event="SESSIONS_ENDED"]').length === 2);
      const words = await page.$$eval('#activity li[data-event="SESSIONS_ENDED"] .what', (w) => w.map((x) => x.textContent));
      assert.deepEqual(words, ['Signed out everywhere else', 'Signed out another session']);
      assert.ok((await audit(username)).includes('SESSIONS_ENDED'));
      await assertFits(p, 'the sessions card alone');
      await screenshot(page, `account-sessions-alone-${width}`);
      for (const q of pages) q.assertClean(`the sessions journey at ${width}px`);
    } finally {
      for (const q of pages) await q.close();
    }
  });
}

for (const width of [1100, 390]) {
  test(`at ${width}px a password-only account is deleted after its password`, JOURNEY, async () => {
    const username = `pwgone${width}`;
    await createUser(server, username, { password: PASSWORD });
    const p = await signedInPage(username);
    const { page } = p;
    try {
      await page.setViewportSize({ width, height: 900 });
      await waitVisible(p, '#account-delete');
      assert.equal(await page.isDisabled('#account-delete'), false, 'offered without a passkey');
      await page.click('#account-delete');
      await confirmDialog(p, 'confirm with your password');
      await waitVisible(p, '#password-dialog');
      assert.equal(await page.isVisible('#new-password-input'), false, 'no new password asked');
      assert.equal(await text(p, '#password-dialog-ok'), 'Delete my account');
      // Nothing given: refused beside the field.
      await page.click('#password-dialog-ok');
      await waitText(p, '#password-dialog-error', 'Please enter your password.');
      assert.equal(await page.getAttribute('#current-password-input', 'aria-invalid'), 'true');
      await assertFits(p, 'the password confirmation');
      await screenshot(page, `account-delete-by-password-${width}`);
      await page.fill('#current-password-input', PASSWORD);
      await page.click('#password-dialog-ok');
      await waitState(p, 'signin');
      await waitUntil(p, 'the deletion confirmed', () => /account was deleted/i.test(document.getElementById('status').textContent));
      await assertNoMessage(p, 'after deleting the account by its password');
      assert.equal((await sessionOf(page)).authenticated, false, 'signed out on the server');
      const r = await server.admin('GET', `/users/${username}`);
      assert.equal(r.status, 404, JSON.stringify(r.body));
      assert.ok((await audit(username)).includes('USER_DELETED'));
      p.assertClean(`the password deletion journey at ${width}px`);
    } finally {
      await p.close();
    }
  });
}
