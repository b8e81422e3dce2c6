// The portal offers only what the server accepts (issue 16): the only passkey of a passkey-only
// account cannot be deleted or disabled, and the page says why (visible, and as the buttons'
// aria-describedby) instead of refusing after a confirmation; once a second authenticator exists
// both can go, and a password added (or removed) on the account page changes that at once. The
// server names the refusals in the self-service list (`changeRefusals`).
// At desktop width and at phone width (390 px).

import { after, before, test } from 'node:test';
import {
  addAuthenticator, assert, launchBrowser, openPage, PASSWORD, portalMissing, screenshot, startServer,
} from './harness.mjs';
import {
  answerNameDialog, assertFits, assertNoMessage, confirmDialog, describe, setPresence,
  signUpWithPasskey, VIRTUAL_AAGUID, waitAnyState, waitCount, waitHidden, waitState, waitText,
  waitVisible,
} from './portal.mjs';

const JOURNEY = { timeout: 60_000, skip: portalMissing() };

let server;
let browser;

before(async () => {
  server = await startServer({
    configToml: `[authenticators.names]\n"${VIRTUAL_AAGUID}" = "iCloud Keychain"\n`,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The text of the elements an element's aria-describedby names. */
async function description(p, selector) {
  return p.page.locator(selector).first().evaluate((node) => (node.getAttribute('aria-describedby') || '')
    .split(/\s+/).filter(Boolean).map((id) => document.getElementById(id)?.textContent.trim() ?? `(no #${id})`)
    .join(' | '));
}

for (const width of [1100, 390]) {
  test(`at ${width}px a passkey-only account's model is named plainly and its only passkey cannot be deleted or disabled, with the reason`, JOURNEY, async () => {
    const p = await openPage(browser, server);
    const { page } = p;
    const username = `solo${width}`;
    try {
      await page.setViewportSize({ width, height: 860 });
      await signUpWithPasskey(p, username, 'Solo');
      const item = page.locator('#credentials li.credential').first();
      // The operator named the model; without verified attestation the portal names it plainly.
      assert.equal((await item.locator('.model').textContent()).trim(), 'iCloud Keychain');
      assert.doesNotMatch(await page.locator('#account').innerText(), /claims to be/i);
      const listed = await server.admin('GET', `/users/${username}/fido/credentials`);
      assert.equal(listed.body.data[0].attributes.attestationTrusted, false);

      // Delete and Disable are offered disabled, with the reason visible and described.
      for (const button of ['button.delete', 'button.toggle']) {
        assert.equal(await item.locator(button).isDisabled(), true, `${button} is disabled\n${await describe(p)}`);
        assert.match(
          await description(p, `#credentials li.credential ${button}`),
          /This is your only way to sign in: add another passkey or a password first\./,
          `${button}'s aria-describedby names the reason`,
        );
      }
      assert.equal(await item.locator('button.rename').isDisabled(), false, 'renaming stays possible');
      const reason = item.locator('.refusal');
      assert.equal(await reason.isVisible(), true, 'the reason is visible');
      await item.locator('button.delete').click({ force: true, timeout: 2_000 }).catch(() => {});
      assert.equal(await page.locator('#confirm-dialog').isVisible(), false, 'no confirmation opens');
      await assertFits(p, 'the account page');
      await screenshot(page, `only-passkey-${width}`);

      // With a second authenticator both can go, and the reason is gone.
      await addAuthenticator(p.cdp, 'usb');
      await setPresence(p, p.authenticatorId, false);
      await page.click('#add-security-key');
      await answerNameDialog(p, 'Spare key');
      await waitCount(p, '#credentials li.credential', 2);
      await waitCount(p, '#credentials li.credential button.delete:disabled', 0);
      assert.equal(await page.locator('#credentials .refusal').count(), 0, 'no reason is shown any more');
      assert.equal(await page.locator('#credentials button.toggle:disabled').count(), 0);
      await assertNoMessage(p, 'after adding the second authenticator');
      p.assertClean(`the only-passkey journey at ${width}px`);
    } finally {
      await p.close();
    }
  });
}

test('a password added or removed on the account page changes what the only passkey offers, without a reload', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  const deleteDisabled = () => page.locator('#credentials li.credential button.delete').first().isDisabled();
  try {
    await signUpWithPasskey(p, 'switcher', 'Switcher');
    assert.equal(await deleteDisabled(), true, 'the only way in cannot go');

    await page.click('#password-add');
    await waitVisible(p, '#password-dialog');
    await page.fill('#new-password-input', PASSWORD);
    await page.click('#password-dialog-ok');
    await waitHidden(p, '#password-dialog');
    await waitText(p, '#password-state', 'You can sign in with your password (and your passkeys).');
    await waitCount(p, '#credentials li.credential button.delete:disabled', 0);
    assert.equal(await page.locator('#credentials .refusal').count(), 0, 'the reason is gone');

    await page.click('#password-remove');
    await confirmDialog(p);
    await waitText(p, '#password-state', 'You have no password: you sign in with your passkeys only.');
    await waitCount(p, '#credentials li.credential button.delete:disabled', 1);
    await assertNoMessage(p, 'after the password changes');
    p.assertClean('the password-and-passkey journey');
  } finally {
    await p.close();
  }
});

test('a key the helpdesk disabled offers no Enable, and says why', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  try {
    await signUpWithPasskey(p, 'held', 'Held');
    const usb = await addAuthenticator(p.cdp, 'usb');
    await setPresence(p, p.authenticatorId, false);
    await page.click('#add-security-key');
    await answerNameDialog(p, 'Desk key');
    await waitCount(p, '#credentials li.credential', 2);
    const listed = await server.admin('GET', '/users/held/fido/credentials');
    const key = listed.body.data.find((c) => c.attributes.displayName === 'Desk key');
    const r = await server.admin('PATCH', `/users/held/fido/credentials/${key.id}`, { enabled: false });
    assert.equal(r.status, 200, JSON.stringify(r.body));

    // The helpdesk's change ended the session: the passkey signs in again.
    await setPresence(p, usb, false);
    await setPresence(p, p.authenticatorId, true);
    // Passkey autofill may answer first on the fresh page; else the button signs in.
    await page.goto('/');
    if (await waitAnyState(p, ['signin', 'account']) === 'signin') {
      await page.click('#passkey-signin', { timeout: 2_000 }).catch(() => {});
    }
    await waitState(p, 'account');
    await waitCount(p, '#credentials li.credential', 2);
    const item = page.locator(`#credentials li.credential[data-id="${key.id}"]`);
    assert.equal((await item.locator('button.toggle').textContent()).trim(), 'Enable');
    assert.equal(await item.locator('button.toggle').isDisabled(), true, `Enable is disabled\n${await describe(p)}`);
    assert.match(
      await description(p, `#credentials li.credential[data-id="${key.id}"] button.toggle`),
      /The helpdesk disabled this authenticator\. Contact them to enable it again\./,
    );
    assert.equal(await item.locator('button.delete').isDisabled(), false, 'deleting it stays possible');
    // The passkey is now the only enabled way in.
    const passkey = page.locator(`#credentials li.credential:not([data-id="${key.id}"])`);
    assert.equal(await passkey.locator('button.delete').isDisabled(), true);
    p.assertClean('the helpdesk-disabled journey');
  } finally {
    await p.close();
  }
});
