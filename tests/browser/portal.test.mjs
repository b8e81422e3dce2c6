// The portal's journeys in headless Chromium with virtual authenticators: passkey sign-up,
// sign-out and passkey sign-in, passkey autofill (conditional mediation), a second authenticator
// added, renamed and deleted with re-authentication, password + FIDO for an admin-created user,
// a cancelled prompt told apart from a refused one, and the pages at phone width from the
// keyboard. Each journey uses its own user, page and authenticators.

import { after, before, test } from 'node:test';
import {
  addAuthenticator, assert, createUser, credentialsOf, launchBrowser, openPage, PASSWORD, portalMissing,
  screenshot, sessionOf, sleep, startServer,
} from './harness.mjs';
import {
  answerNameDialog, assertFits, assertNoMessage, calls, conditionalRetrievals, confirmDialog,
  credentialNamed, describe, setPresence, signUpWithPasskey, text, waitCount, waitState, waitText,
  waitUntil,
} from './portal.mjs';

const JOURNEY = { timeout: 60_000, skip: portalMissing() };
const XSS_NAME = '<img src=x onerror=alert(1)>';

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

async function audit(username) {
  const r = await server.admin('GET', `/audit?username=${username}&page[size]=100`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.map((e) => `${e.attributes.event}:${e.attributes.outcome}`);
}

test('a passkey sign-up, a sign-out and a sign-in with the passkey button', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  try {
    await page.goto('/');
    await waitState(p, 'signin');
    assert.equal(await page.getAttribute('#username', 'autocomplete'), 'username webauthn');
    await screenshot(page, 'sign-in');

    await signUpWithPasskey(p, 'alice', 'Alice Example', () => screenshot(page, 'sign-up'));
    assert.ok((await text(p, '#who')).includes('alice'), `#who should name alice: ${await text(p, '#who')}`);
    await assertNoMessage(p, 'after the sign-up');
    const stored = await credentialsOf(p.cdp, p.authenticatorId);
    assert.equal(stored.length, 1, 'the virtual authenticator holds the new passkey');
    assert.equal(stored[0].isResidentCredential, true, 'the sign-up passkey is discoverable');
    assert.equal((await sessionOf(page)).username, 'alice');
    await screenshot(page, 'account-list');

    // After a sign-out the page offers no passkey autofill (until the next page load), so the
    // passkey button is what signs in. (After a reload a pending autofill request would answer
    // first as soon as the authenticator is touched: that is the autofill journey's subject.)
    await setPresence(p, p.authenticatorId, false);
    const offered = conditionalRetrievals(p).length;
    await page.click('#signout');
    await waitState(p, 'signin');
    assert.equal((await sessionOf(page)).authenticated, false, 'signed out on the server');
    assert.equal(conditionalRetrievals(p).length, offered, 'signing out offers no autofill');
    await setPresence(p, p.authenticatorId, true);
    await page.click('#passkey-signin');
    await waitState(p, 'account');
    const session = await sessionOf(page);
    assert.equal(session.authenticated, true);
    assert.equal(session.username, 'alice');
    await waitCount(p, '#credentials li.credential', 1);
    await assertNoMessage(p, 'after the passkey sign-in');
    const events = await audit('alice');
    assert.ok(events.includes('SIGN_UP:success'), events.join());
    assert.ok(events.includes('FIDO_AUTHENTICATION:success'), events.join());
    p.assertClean('the passkey journey');
  } finally {
    await p.close();
  }
});

test('passkey autofill: the sign-in page issues a conditional request that signs in', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  try {
    await signUpWithPasskey(p, 'dora', 'Dora');
    await setPresence(p, p.authenticatorId, false);
    await page.click('#signout');
    await waitState(p, 'signin');

    // A fresh load of the sign-in page starts the conditional request; without presence it waits.
    p.requests.length = 0;
    await page.reload();
    await waitState(p, 'signin');
    assert.equal(
      await page.evaluate(() => PublicKeyCredential.isConditionalMediationAvailable()),
      true,
      'Chromium offers conditional mediation',
    );
    for (let i = 0; i < 50 && conditionalRetrievals(p).length === 0; i += 1) await sleep(100);
    assert.equal(conditionalRetrievals(p).length, 1, `the page asks for one conditional challenge on load\n${await describe(p)}`);
    await sleep(1000);
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'signin', 'pending: nothing signed in');
    assert.equal(calls(p, '/fido/assertion-response/check').length, 0);
    await assertNoMessage(p, 'while the conditional request is pending');

    // With presence, Chromium's virtual authenticator answers the conditional request on its own
    // (no focus or pick needed headlessly): the autofill sign-in completes.
    await setPresence(p, p.authenticatorId, true);
    p.requests.length = 0;
    await page.reload();
    await waitState(p, 'account');
    assert.equal(conditionalRetrievals(p).length, 1, `autofill used the conditional challenge\n${await describe(p)}`);
    assert.equal(calls(p, '/rest/public/authentication/fido/assertion-response/check').length, 1);
    assert.equal(calls(p, '/password/check').length, 0, 'no password was sent');
    assert.equal((await sessionOf(page)).username, 'dora');
    await assertNoMessage(p, 'after the autofill sign-in');
    p.assertClean('the autofill journey');
  } finally {
    await p.close();
  }
});

test('a security key added, renamed (to markup, shown as text), disabled, enabled and deleted with re-authentication', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  try {
    await signUpWithPasskey(p, 'erin', 'Erin');
    const usb = await addAuthenticator(p.cdp, 'usb');
    // Only the security key answers while the passkey's presence is off.
    await setPresence(p, p.authenticatorId, false);

    await page.click('#add-security-key');
    await answerNameDialog(p, 'Blue key', () => screenshot(page, 'name-dialog'));
    await waitCount(p, '#credentials li.credential', 2);
    assert.equal((await credentialsOf(p.cdp, usb)).length, 1, 'the security key holds the new credential');
    const blue = credentialNamed(p, '#credentials', 'Blue key');
    assert.equal(await blue.count(), 1, `one item named Blue key\n${await describe(p)}`);
    const blueId = await blue.getAttribute('data-id');
    const transports = await blue.locator('.transports').textContent();
    assert.match(transports, /usb/i, `the key's transports show USB: ${JSON.stringify(transports)}`);
    await assertNoMessage(p, 'after adding the security key');

    const item = page.locator(`#credentials li.credential[data-id="${blueId}"]`);
    await item.locator('button.rename').click();
    await answerNameDialog(p, XSS_NAME);
    await waitText(p, `#credentials li.credential[data-id="${blueId}"] .name`, XSS_NAME);
    assert.equal(await item.locator('img').count(), 0, 'the name is text, not an <img>');
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    const listed = await server.admin('GET', '/users/erin/fido/credentials');
    assert.equal(listed.body.data.find((c) => c.id === blueId)?.attributes.displayName, XSS_NAME);

    // Disable (confirmed, approved with a FIDO assertion), then enable again.
    await item.locator('button.toggle').click();
    await confirmDialog(p);
    await waitText(p, `#credentials li.credential[data-id="${blueId}"] button.toggle`, 'Enable');
    const disabled = await server.admin('GET', '/users/erin/fido/credentials');
    assert.equal(disabled.body.data.find((c) => c.id === blueId)?.attributes.disabledBy, 'user');
    await item.locator('button.toggle').click();
    await waitText(p, `#credentials li.credential[data-id="${blueId}"] button.toggle`, 'Disable');
    const enabled = await server.admin('GET', '/users/erin/fido/credentials');
    assert.equal(enabled.body.data.find((c) => c.id === blueId)?.attributes.enabled, true);

    await item.locator('button.delete').click();
    await confirmDialog(p, XSS_NAME);
    assert.equal(await page.locator('#confirm-dialog img').count(), 0, 'the confirmation shows the name as text');
    await waitCount(p, '#credentials li.credential', 1);
    assert.equal(await page.locator(`#credentials li.credential[data-id="${blueId}"]`).count(), 0);
    const left = await server.admin('GET', '/users/erin/fido/credentials');
    assert.equal(left.body.data.length, 1, 'the server deleted the key');
    const events = await audit('erin');
    for (const e of ['FIDO_REGISTRATION:success', 'CREDENTIAL_RENAMED:success', 'CREDENTIAL_DISABLED:success', 'CREDENTIAL_ENABLED:success', 'FIDO_APPROVAL:success', 'CREDENTIAL_DELETED:success']) {
      assert.ok(events.includes(e), `audit of erin lacks ${e}: ${events.join()}`);
    }
    await assertNoMessage(p, 'after the deletion');
    p.assertClean('the add/rename/delete journey');
  } finally {
    await p.close();
  }
});

test('an admin-created user signs in with password, adds a key, then signs in with password + FIDO', JOURNEY, async () => {
  await createUser(server, 'bob', { displayName: 'Bob Admin-Made', password: PASSWORD });
  const p = await openPage(browser, server, { authenticator: 'usb' });
  const { page } = p;
  try {
    await page.goto('/');
    await waitState(p, 'signin');
    await page.fill('#username', 'bob');
    await page.fill('#password', PASSWORD);
    await page.click('#password-signin');
    // No credential yet: the password alone completes the login.
    await waitState(p, 'account');
    await waitCount(p, '#credentials li.credential', 0);

    await page.click('#add-security-key');
    await answerNameDialog(p, 'Bob\'s key');
    await waitCount(p, '#credentials li.credential', 1);

    await setPresence(p, p.authenticatorId, false);
    await page.click('#signout');
    await waitState(p, 'signin');
    await page.fill('#username', 'bob');
    await page.fill('#password', PASSWORD);
    await page.click('#password-signin');
    await waitState(p, 'second-factor');
    assert.equal((await sessionOf(page)).authenticated, false, 'the password alone does not sign in');
    await screenshot(page, 'second-factor');
    await setPresence(p, p.authenticatorId, true);
    await page.click('#fido-continue');
    await waitState(p, 'account');
    assert.equal((await sessionOf(page)).username, 'bob');
    await assertNoMessage(p, 'after password + FIDO');
    const events = await audit('bob');
    assert.ok(events.includes('PASSWORD_CHECK:success') && events.includes('FIDO_AUTHENTICATION:success'), events.join());
    p.assertClean('the password + FIDO journey');
  } finally {
    await p.close();
  }
});

test('a cancelled passkey prompt is reported with fido/abort and told apart from a server refusal', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  const aborts = () => p.requests.filter((r) => r.path.endsWith('/fido/abort'));
  const message = () => page.evaluate(() => document.querySelector('#message')?.textContent.trim() || '');
  try {
    await signUpWithPasskey(p, 'ivy', 'Ivy');
    await setPresence(p, p.authenticatorId, false);
    await page.click('#signout');
    await waitState(p, 'signin');
    // No reload: after a sign-out the page offers no autofill, so no pending request can take
    // the authenticator's answers meant for the button.

    // A failed user verification is, to the page, what a cancel is: NotAllowedError.
    await p.cdp.send('WebAuthn.setUserVerified', { authenticatorId: p.authenticatorId, isUserVerified: false });
    await setPresence(p, p.authenticatorId, true);
    await page.click('#passkey-signin');
    await waitUntil(p, 'a message in #message', () => document.querySelector('#message')?.textContent.trim() !== '');
    assert.equal(await message(), 'Cancelled — you\'re not signed in. Nothing was changed.');
    assert.equal(aborts().length, 1, 'the cancel is reported to the server');
    assert.deepEqual(JSON.parse(aborts()[0].body), { reason: 'NOT_ALLOWED' });
    assert.equal((await sessionOf(page)).authenticated, false);

    // A signature the server refuses shows the server's reason, and is not reported as a cancel.
    await p.cdp.send('WebAuthn.setUserVerified', { authenticatorId: p.authenticatorId, isUserVerified: true });
    await p.cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId: p.authenticatorId, isBogusSignature: true });
    await page.click('#passkey-signin');
    await waitUntil(p, 'the refusal in #message', () => /not accepted/.test(document.querySelector('#message')?.textContent || ''));
    assert.match(await message(), /\(signature\): the assertion signature does not verify/);
    assert.equal(aborts().length, 1, 'a refusal is no cancel');
    assert.equal((await sessionOf(page)).authenticated, false);

    // Nothing is stuck: the same passkey signs in once it answers properly.
    await p.cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId: p.authenticatorId, isBogusSignature: false });
    // The re-armed autofill request may sign in first; then there is no button left to click.
    await page.click('#passkey-signin', { timeout: 2_000 }).catch(() => {});
    await waitState(p, 'account');
    const events = await audit('ivy');
    for (const e of ['FIDO_AUTHENTICATION:failure', 'FIDO_AUTHENTICATION:success']) {
      assert.ok(events.includes(e), `audit of ivy lacks ${e}: ${events.join()}`);
    }
    // Before the passkey answers, the passwordless flow knows no user: the abort is audited
    // without one.
    const all = await server.admin('GET', '/audit?page[size]=20');
    const abort = all.body.data.map((e) => e.attributes).find((a) => a.event === 'FIDO_ABORT');
    assert.ok(abort, `no FIDO_ABORT in ${JSON.stringify(all.body.data.map((e) => e.attributes.event))}`);
    assert.match(abort.detail, /NOT_ALLOWED/);
    p.assertClean('the cancel/refusal journey');
  } finally {
    await p.close();
  }
});

test('at phone width nothing scrolls sideways, and sign-up works from the keyboard alone', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  try {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto('/');
    await waitState(p, 'signin');
    await assertFits(p, 'the sign-in page');
    // Keyboard only: focus the sign-up link, Enter, type, Tab, type, Enter.
    await page.focus('#show-signup');
    await page.keyboard.press('Enter');
    await waitState(p, 'signup');
    await assertFits(p, 'the sign-up page');
    await page.focus('#signup-username');
    await page.keyboard.type('jules');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'signup-displayname');
    await page.keyboard.type('Jules with a rather long name that has to wrap');
    await page.keyboard.press('Enter');
    await waitState(p, 'account');
    await waitCount(p, '#credentials li.credential', 1);
    await assertFits(p, 'the account page');
    await screenshot(page, 'account-phone');
    p.assertClean('the phone-width journey');
  } finally {
    await p.close();
  }
});

test('the wrong password shows an error and signs nobody in', JOURNEY, async () => {
  await createUser(server, 'gina', { password: PASSWORD });
  const p = await openPage(browser, server);
  const { page } = p;
  try {
    await page.goto('/');
    await waitState(p, 'signin');
    await page.fill('#username', 'gina');
    await page.fill('#password', 'not the password');
    await page.click('#password-signin');
    // The error sits next to the password field, and is announced.
    await waitUntil(p, 'an error in #password-error', () => document.querySelector('#password-error')?.textContent.trim() !== '');
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'signin');
    assert.equal((await sessionOf(page)).authenticated, false);
    assert.equal(await page.getAttribute('#password-error', 'role'), 'alert');
    assert.equal(await page.getAttribute('#password', 'aria-invalid'), 'true');
    p.assertClean('the wrong-password journey');
  } finally {
    await p.close();
  }
});

