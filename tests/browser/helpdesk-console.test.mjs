// The helpdesk console in headless Chromium: the token kept for the tab and forgotten, the
// users table in pages, creating and deleting a user (admin role; a helpdesk token sees both
// disabled, with the reason), Unlock offered only for a locked user, "Sign out everywhere"
// ending a signed-in user's session, and the audit trail with
// its filters, user-agent column, USER_LOCKED shown as "Locked" and times in the viewer's
// locale; at desktop and phone (390 px) width. A key registered twice shows in the trail as a
// refused registration, with the credential's name beside its id.

import { after, before, test } from 'node:test';
import { createHash, randomBytes } from 'node:crypto';
import {
  assert, createUser, launchBrowser, openPage, PASSWORD, portalMissing, screenshot, sessionOf,
  startServer,
} from './harness.mjs';
import {
  answerNameDialog, assertFits, assertNoMessage, confirmDialog, describe, text, waitCount,
  waitHidden, waitState, waitText, waitUntil, waitVisible,
} from './portal.mjs';

const HELPDESK_TOKEN = randomBytes(30).toString('base64url');
const skip = portalMissing('helpdesk.html', 'id="token-keep"');

let server;
let browser;

before(async () => {
  if (skip) return;
  const sha256 = createHash('sha256').update(HELPDESK_TOKEN).digest('hex');
  server = await startServer({
    configToml: `[[admin.tokens]]\nname = "desk"\nrole = "helpdesk"\nsha256 = "${sha256}"\n`,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function setToken(p, token, { keep = false } = {}) {
  await p.page.fill('#token', token);
  if (keep) await p.page.check('#token-keep');
  await p.page.click('#token-set');
  await waitVisible(p, '#token-role');
}

async function searchUsers(p, prefix) {
  await p.page.fill('#search', prefix);
  await p.page.click('#search-button');
}

const row = (p, name) => p.page.locator(`#users tr.user[data-username="${name}"]`);

test('an admin pages through users, creates, unlocks and deletes one, and filters the trail', { timeout: 90_000, skip }, async () => {
  for (let i = 0; i < 22; i += 1) await createUser(server, `pager${String(i).padStart(2, '0')}`);
  await createUser(server, 'lena', { displayName: 'Lena', password: PASSWORD });
  const desk = await openPage(browser, server, { authenticator: null });
  const { page } = desk;
  try {
    await page.goto('/helpdesk');
    await setToken(desk, server.adminToken, { keep: true });
    await waitText(desk, '#token-role', 'Token “bootstrap” with the admin role.');
    assert.equal(await page.locator('#create-user').isDisabled(), false, 'an admin may create users');
    assert.equal(await page.locator('#create-user-reason').isVisible(), false);

    // Paging: 20 users a page, previous and next.
    await searchUsers(desk, 'pager');
    await waitCount(desk, '#users tbody tr.user', 20);
    assert.equal(await page.locator('#users-prev').isDisabled(), true);
    await page.click('#users-next');
    await waitCount(desk, '#users tbody tr.user', 2);
    await waitText(desk, '#users-page', 'Page 2');
    assert.equal(await page.locator('#users-next').isDisabled(), true);
    await page.click('#users-prev');
    await waitCount(desk, '#users tbody tr.user', 20);
    await waitText(desk, '#users-page', 'Page 1');

    // Create a user from the page: it is listed with its columns and opened.
    await page.fill('#new-username', 'Mona');
    await page.fill('#new-display-name', 'Mona Lisa');
    await page.click('#create-user');
    await waitText(desk, '#detail-username', 'mona');
    await waitText(desk, '#status', 'User mona was created.');
    const mona = row(desk, 'mona');
    assert.equal((await mona.locator('.display-name').textContent()).trim(), 'Mona Lisa');
    assert.equal((await mona.locator('.passkeys').textContent()).trim(), '0');
    assert.equal((await mona.locator('.locked').textContent()).trim(), 'No');
    assert.ok((await mona.locator('.created time').count()) === 1, 'the creation time is a <time>');
    assert.equal(await page.locator('#unlock').isVisible(), false, 'no Unlock for a user who is not locked');

    // A refused username is told, with the page unchanged.
    await page.fill('#new-username', 'no spaces allowed');
    await page.click('#create-user');
    await waitUntil(desk, 'an error in #message', () => document.querySelector('#message').textContent.trim() !== '');

    // Lena fails five passwords: locked. The table and her details say so; Unlock is offered.
    for (let i = 0; i < 5; i += 1) {
      await page.evaluate(async () => {
        await fetch('/rest/public/authentication/password/check', {
          method: 'POST',
          headers: { 'X-Same-Domain': '1', 'Content-Type': 'application/json' },
          body: JSON.stringify({ username: 'lena', password: 'wrong password' }),
        });
      });
    }
    await searchUsers(desk, 'lena');
    await waitCount(desk, '#users tbody tr.user', 1);
    assert.equal((await row(desk, 'lena').locator('.locked').textContent()).trim(), 'Locked');
    await row(desk, 'lena').locator('button.open').click();
    await waitText(desk, '#detail-username', 'lena');
    await waitVisible(desk, '#unlock');
    assert.match(await text(desk, '#detail-locked'), /^Locked until /);

    // The trail: USER_LOCKED shows as "Locked", not "Success"; its detail's time is localised;
    // the user agent has its column.
    const locked = page.locator('#audit tr.event[data-event="USER_LOCKED"]');
    await waitCount(desk, '#audit tr.event[data-event="USER_LOCKED"]', 1);
    assert.equal((await locked.locator('.outcome').textContent()).trim(), 'Locked');
    assert.equal(await locked.locator('.detail time').count(), 1, 'the lock expiry is a <time>');
    assert.ok(!(await locked.locator('.detail').textContent()).match(/\dT\d/), 'no raw RFC 3339 time in the detail');
    assert.match(await locked.locator('.user-agent').textContent(), /Chrom|Mozilla/);
    await screenshot(page, 'helpdesk-console-locked');

    // Filters: failures only, then one event, then a day with nothing.
    await page.selectOption('#audit-outcome', 'failure');
    await page.click('#audit-apply');
    await waitUntil(desk, 'only the failed password checks', () => {
      const rows = [...document.querySelectorAll('#audit tr.event')];
      return rows.length >= 4 && rows.every((r) => r.dataset.event === 'PASSWORD_CHECK'
        && r.querySelector('.outcome').textContent.trim() === 'Failure');
    });
    await page.selectOption('#audit-outcome', '');
    await page.selectOption('#audit-event', 'USER_LOCKED');
    await page.click('#audit-apply');
    await waitCount(desk, '#audit tr.event', 1);
    await page.fill('#audit-from', '2001-01-01');
    await page.fill('#audit-to', '2001-01-02');
    await page.click('#audit-apply');
    await waitCount(desk, '#audit tr.event', 0);
    await waitText(desk, '#audit-empty', 'No events match these filters.');
    await page.click('#audit-reset');
    await waitUntil(desk, 'the whole trail again', () => document.querySelectorAll('#audit tr.event').length >= 6);

    // Unlock: the button goes, the trail shows the unlock.
    await page.click('#unlock');
    await waitHidden(desk, '#unlock');
    await waitText(desk, '#detail-locked', 'Not locked');
    await waitCount(desk, '#audit tr.event[data-event="USER_UNLOCKED"]', 1);
    assert.equal((await row(desk, 'lena').locator('.locked').textContent()).trim(), 'No');

    // Sign out everywhere: Lena signs in in her own browser, the helpdesk signs her out.
    const lena = await openPage(browser, server, { authenticator: null });
    try {
      await lena.page.goto('/');
      await waitState(lena, 'signin');
      await lena.page.fill('#username', 'lena');
      await lena.page.fill('#password', PASSWORD);
      await lena.page.click('#password-signin');
      await waitState(lena, 'account');
      await page.click('#end-sessions');
      await confirmDialog(desk, 'lena');
      await waitText(desk, '#status', 'lena is signed out everywhere.');
      await waitCount(desk, '#audit tr.event[data-event="SESSIONS_ENDED"]', 1);
      assert.equal((await sessionOf(lena.page)).authenticated, false, 'signed out on the server');
    } finally {
      await lena.close();
    }

    // The token was kept for the tab: a reload still uses it.
    await page.reload();
    await waitText(desk, '#status', 'Using the token kept for this tab.');
    await waitText(desk, '#token-role', 'Token “bootstrap” with the admin role.');

    // Delete Lena, after the confirmation.
    await searchUsers(desk, 'lena');
    await waitCount(desk, '#users tbody tr.user', 1);
    await row(desk, 'lena').locator('button.open').click();
    await waitText(desk, '#detail-username', 'lena');
    await page.click('#delete-user');
    await confirmDialog(desk, 'lena');
    await waitText(desk, '#status', 'The user lena was deleted.');
    await waitHidden(desk, '#user-detail');
    assert.equal((await server.admin('GET', '/users/lena')).status, 404);

    // Phone width: the users table and the trail fit.
    await page.setViewportSize({ width: 390, height: 844 });
    await searchUsers(desk, 'mona');
    await waitCount(desk, '#users tbody tr.user', 1);
    await row(desk, 'mona').locator('button.open').click();
    await waitText(desk, '#detail-username', 'mona');
    await waitCount(desk, '#audit tr.event', 1);
    await assertFits(desk, 'phone width');
    await screenshot(page, 'helpdesk-console-phone');
    await page.setViewportSize({ width: 1100, height: 900 });
    await assertFits(desk, 'desktop width');

    // Forget the token: it is gone from the tab.
    await page.click('#token-forget');
    await waitText(desk, '#status', 'The token is forgotten.');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.reload();
    await waitUntil(desk, 'the page to start', () => document.body.dataset.busy === 'false');
    assert.equal(await page.locator('#token-role').isVisible(), false);
    await assertNoMessage(desk, 'after reload without a kept token');
    desk.assertClean('the helpdesk page');
  } finally {
    await desk.close();
  }
});

test('a helpdesk token sees creating and deleting users disabled, with the reason', { timeout: 60_000, skip }, async () => {
  await createUser(server, 'nora', { password: PASSWORD });
  const desk = await openPage(browser, server, { authenticator: null });
  const { page } = desk;
  try {
    await page.goto('/helpdesk');
    await setToken(desk, HELPDESK_TOKEN);
    await waitText(desk, '#token-role', 'Token “desk” with the helpdesk role.');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'not kept unless asked');
    assert.equal(await page.locator('#create-user').isDisabled(), true);
    assert.equal(await page.locator('#new-username').isDisabled(), true);
    await waitVisible(desk, '#create-user-reason');
    assert.match(await text(desk, '#create-user-reason'), /needs an admin token/);

    await searchUsers(desk, 'nora');
    await waitCount(desk, '#users tbody tr.user', 1);
    await row(desk, 'nora').locator('button.open').click();
    await waitText(desk, '#detail-username', 'nora');
    assert.equal(await page.locator('#delete-user').isDisabled(), true);
    await waitVisible(desk, '#delete-user-reason');
    assert.match(await text(desk, '#delete-user-reason'), /needs an admin token/);
    await page.setViewportSize({ width: 390, height: 844 });
    await assertFits(desk, 'phone width, helpdesk role');
    await screenshot(page, 'helpdesk-console-helpdesk-role');
    await assertNoMessage(desk, 'helpdesk role');
    desk.assertClean('the helpdesk page');
  } finally {
    await desk.close();
  }
});

test('a key registered again is a refused FIDO_REGISTRATION in the trail, not an abort', { timeout: 60_000, skip }, async () => {
  await createUser(server, 'olga', { password: PASSWORD });
  const user = await openPage(browser, server, { authenticator: 'usb' });
  const desk = await openPage(browser, server, { authenticator: null });
  try {
    await user.page.goto('/');
    await waitState(user, 'signin');
    await user.page.fill('#username', 'olga');
    await user.page.fill('#password', PASSWORD);
    await user.page.click('#password-signin');
    await waitState(user, 'account');
    await user.page.click('#add-security-key');
    await answerNameDialog(user, 'Olga key');
    await waitCount(user, '#credentials li.credential', 1);
    // The same key again: the browser refuses (InvalidStateError) and the page reports why.
    await user.page.click('#add-security-key');
    await answerNameDialog(user, 'Again');
    await waitUntil(user, 'an error in #message', () => document.querySelector('#message')?.textContent.trim() !== '');
    const reported = user.requests.filter((r) => r.path.endsWith('/fido/abort')).map((r) => JSON.parse(r.body).reason);
    assert.deepEqual(reported, ['EXCLUDED_CREDENTIAL']);

    const { page } = desk;
    await page.goto('/helpdesk');
    await setToken(desk, server.adminToken);
    await searchUsers(desk, 'olga');
    await waitCount(desk, '#users tbody tr.user', 1);
    await row(desk, 'olga').locator('button.open').click();
    await waitText(desk, '#detail-username', 'olga');
    await waitCount(desk, '#audit tr.event[data-event="FIDO_REGISTRATION"]', 2);
    assert.equal(await page.locator('#audit tr.event[data-event="FIDO_ABORT"]').count(), 0);
    const [refused, registered] = await page.locator('#audit tr.event[data-event="FIDO_REGISTRATION"]').all();
    assert.equal((await refused.locator('.outcome').textContent()).trim(), 'Failure');
    assert.match(await refused.locator('.detail').textContent(), /already holds/);
    assert.equal((await refused.locator('.actor').textContent()).trim(), 'user:olga');
    assert.equal((await registered.locator('.credential-name').textContent()).trim(), '“Olga key”');
    assert.ok((await registered.locator('.credential-id').textContent()).trim().length > 10);
    await screenshot(page, 'helpdesk-console-refused-registration');
    user.assertClean('the user\'s page');
    desk.assertClean('the helpdesk page');
  } finally {
    await user.close();
    await desk.close();
  }
});
