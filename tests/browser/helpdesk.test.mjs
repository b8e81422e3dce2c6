// The helpdesk page in headless Chromium: a token, a user search, the user's credentials and
// audit trail; the helpdesk disables the user's only key and the user's next login fails. A
// credential named with markup shows as text on the portal and on the helpdesk page.

import { after, before, test } from 'node:test';
import {
  assert, createUser, launchBrowser, openPage, PASSWORD, portalMissing, screenshot, sessionOf,
  startServer,
} from './harness.mjs';
import {
  answerNameDialog, assertNoMessage, confirmDialog, describe, setPresence, text, waitCount,
  waitState, waitText, waitUntil, waitVisible,
} from './portal.mjs';

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

async function passwordSignIn(p, username) {
  await p.page.fill('#username', username);
  await p.page.fill('#password', PASSWORD);
  await p.page.click('#password-signin');
}

test('the helpdesk disables a user\'s key and the user\'s next login with it fails', { timeout: 60_000, skip: portalMissing() || portalMissing('helpdesk.html', 'id="token"') }, async () => {
  await createUser(server, 'frank', { displayName: 'Frank', password: PASSWORD });

  // Frank signs in with his password and adds a security key named with markup.
  const user = await openPage(browser, server, { authenticator: 'usb' });
  const desk = await openPage(browser, server, { authenticator: null });
  try {
    await user.page.goto('/');
    await waitState(user, 'signin');
    await passwordSignIn(user, 'frank');
    await waitState(user, 'account');
    await user.page.click('#add-security-key');
    await answerNameDialog(user, XSS_NAME);
    await waitCount(user, '#credentials li.credential', 1);
    const item = user.page.locator('#credentials li.credential').first();
    await waitText(user, '#credentials li.credential .name', XSS_NAME);
    assert.equal(await item.locator('img').count(), 0, 'portal: the name is text, not an <img>');
    const credentialId = await item.getAttribute('data-id');
    assert.ok(credentialId, 'the credential item carries data-id');

    // The helpdesk finds Frank and sees the same name as text.
    const { page } = desk;
    await page.goto('/helpdesk');
    await page.fill('#token', server.adminToken);
    await page.click('#token-set');
    await waitText(desk, '#mds-status', 'FIDO metadata: none imported — authenticator models are named from the built-in list.');
    await page.fill('#search', 'fra');
    await page.click('#search-button');
    await waitCount(desk, '#users tr.user[data-username="frank"]', 1);
    await page.click('#users tr.user[data-username="frank"] button.open');
    await waitVisible(desk, '#user-detail');
    await waitText(desk, '#detail-username', 'frank');
    await waitCount(desk, '#user-credentials li.credential', 1);
    const row = page.locator(`#user-credentials li.credential[data-id="${credentialId}"]`);
    assert.equal(await row.count(), 1, `the helpdesk lists the credential by its id\n${await describe(desk)}`);
    assert.equal(await row.locator('.name').textContent().then((t) => t.trim()), XSS_NAME, 'helpdesk shows the name as text');
    assert.equal(await row.locator('img').count(), 0, 'helpdesk: the name is text, not an <img>');
    assert.ok((await row.locator('.format').textContent()).trim() !== '', 'the attestation format is shown');
    await waitUntil(desk, 'the audit trail to show the registration', () => [...document.querySelectorAll('#audit tr.event .event')]
      .some((c) => c.textContent.includes('FIDO_REGISTRATION')));

    // Disable it.
    assert.equal((await row.locator('button.toggle').textContent()).trim(), 'Disable');
    await row.locator('button.toggle').click();
    // Disabling signs the user out everywhere, so the page asks first, naming the key as text.
    await confirmDialog(desk, XSS_NAME);
    assert.equal(await page.locator('#confirm-dialog img').count(), 0, 'the confirmation shows the name as text');
    await waitText(desk, `#user-credentials li.credential[data-id="${credentialId}"] button.toggle`, 'Enable');
    await waitUntil(desk, 'the audit trail to show CREDENTIAL_DISABLED', () => [...document.querySelectorAll('#audit tr.event .event')]
      .some((c) => c.textContent.includes('CREDENTIAL_DISABLED')));
    const audited = page.locator('#audit tr.event').filter({ has: page.locator('.event', { hasText: 'CREDENTIAL_DISABLED' }) }).first();
    assert.ok((await audited.locator('.actor').textContent()).includes('token:bootstrap'), 'the actor is the token');
    assert.match(await audited.locator('.outcome').textContent(), /success/i, 'the outcome is shown');
    await assertNoMessage(desk, 'helpdesk after disabling');
    await screenshot(page, 'helpdesk-user-audit');
    const listed = await server.admin('GET', '/users/frank/fido/credentials');
    assert.equal(listed.body.data[0].attributes.enabled, false);
    assert.equal(listed.body.data[0].attributes.disabledBy, 'helpdesk');

    // Frank's session ended; his next login (password, then the disabled key) fails.
    assert.equal((await sessionOf(user.page)).authenticated, false, 'disabling ended the user\'s session');
    await setPresence(user, user.authenticatorId, false);
    await user.page.goto('/');
    await waitState(user, 'signin');
    await setPresence(user, user.authenticatorId, true);
    await passwordSignIn(user, 'frank');
    await waitUntil(user, 'an error in #message', () => document.querySelector('#message')?.textContent.trim() !== '');
    const state = await user.page.evaluate(() => document.body.dataset.state);
    assert.notEqual(state, 'account', `the login must fail; the portal shows ${state}: ${await text(user, '#message')}`);
    assert.equal((await sessionOf(user.page)).authenticated, false, 'nobody is signed in');

    user.assertClean('the user\'s page');
    desk.assertClean('the helpdesk page');
  } finally {
    await user.close();
    await desk.close();
  }
});
