// The portal says what is true (issue 16): a known model is named plainly (the "claims to be"
// hint stays on the helpdesk page), a passkey is made before it is named so that a second one on
// the same device is refused in words before anything is asked, the
// sign-in page leads with the passkey and puts its errors next to their field behind a skip link
// (at desktop width and at phone width, 390 px), and the second-factor step names the account
// signing in.

import { after, before, test } from 'node:test';
import {
  assert, createUser, credentialsOf, launchBrowser, openPage, PASSWORD, portalMissing, screenshot,
  sessionOf, startServer,
} from './harness.mjs';
import {
  answerNameDialog, assertFits, assertNoMessage, setPresence, signUpWithPasskey, text,
  VIRTUAL_AAGUID, waitCount, waitState, waitText, waitUntil, waitVisible,
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

test('an unverified model is named plainly on the portal; the helpdesk page keeps the "claims to be" hint', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const desk = await openPage(browser, server, { authenticator: null });
  try {
    await signUpWithPasskey(p, 'claimant', 'Claimant');
    // The operator named the model; without verified attestation the portal names it plainly.
    assert.equal(await text(p, '#credentials li.credential .model'), 'iCloud Keychain');
    assert.doesNotMatch(await p.page.locator('#account').innerText(), /claims to be/i);
    const listed = await server.admin('GET', '/users/claimant/fido/credentials');
    assert.equal(listed.body.data[0].attributes.attestationTrusted, false);
    // Only a verified attestation makes the portal say "verified" (the list answered as if the
    // metadata had verified it).
    await p.page.route('**/rest/protected/self-service/fido/credentials', async (route) => {
      const response = await route.fetch();
      const json = await response.json();
      for (const c of json.data) c.attributes.attestationTrusted = true;
      await route.fulfill({ response, json });
    });
    await p.page.reload();
    await waitState(p, 'account');
    await waitText(p, '#credentials li.credential .model', 'iCloud Keychain — verified');
    await p.page.unroute('**/rest/protected/self-service/fido/credentials');
    const { page } = desk;
    await page.goto('/helpdesk');
    await page.fill('#token', server.adminToken);
    await page.click('#token-set');
    await page.fill('#search', 'claimant');
    await page.click('#search-button');
    await waitCount(desk, '#users tr.user[data-username="claimant"]', 1);
    await page.click('#users tr.user[data-username="claimant"] button.open');
    await waitVisible(desk, '#user-detail');
    await waitCount(desk, '#user-credentials li.credential', 1);
    assert.equal(await text(desk, '#user-credentials li.credential .model'), 'claims to be iCloud Keychain');
    p.assertClean('the portal');
    desk.assertClean('the helpdesk page');
  } finally {
    await p.close();
    await desk.close();
  }
});

test('adding a passkey on a device that already holds one says so, before asking for a name', JOURNEY, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  try {
    await signUpWithPasskey(p, 'twice', 'Twice');
    await page.click('#add-passkey');
    await waitUntil(p, 'an error in #message', () => document.querySelector('#message')?.textContent.trim() !== '');
    assert.equal(await page.locator('#name-dialog').isVisible(), false, 'no name was asked for');
    assert.equal(
      await text(p, '#message'),
      'This device already has a passkey for your account — nothing was changed. You can already sign in with it here.',
    );
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'add-passkey', 'focus returns to the button');
    await waitCount(p, '#credentials li.credential', 1);
    const listed = await server.admin('GET', '/users/twice/fido/credentials');
    assert.equal(listed.body.data.length, 1, 'nothing was registered');
    p.assertClean('the same-device journey');
  } finally {
    await p.close();
  }
});

test('a passkey added on this device is made first, then named', JOURNEY, async () => {
  await createUser(server, 'nora', { password: PASSWORD });
  const p = await openPage(browser, server);
  const { page } = p;
  try {
    await page.goto('/');
    await waitState(p, 'signin');
    await page.fill('#username', 'nora');
    await page.fill('#password', PASSWORD);
    await page.click('#password-signin');
    await waitState(p, 'account');
    await page.click('#add-passkey');
    await waitVisible(p, '#name-dialog');
    assert.equal((await credentialsOf(p.cdp, p.authenticatorId)).length, 1, 'the passkey exists before it is named');
    assert.equal(await text(p, '#name-title'), 'Name your new passkey');
    await answerNameDialog(p, 'Work laptop');
    await waitText(p, '#credentials li.credential .name', 'Work laptop');
    await waitText(p, '#status', 'Added “Work laptop”. You can now use it to sign in.');
    const listed = await server.admin('GET', '/users/nora/fido/credentials');
    assert.deepEqual(listed.body.data.map((c) => c.attributes.displayName), ['Work laptop']);
    p.assertClean('the add-a-passkey journey');
  } finally {
    await p.close();
  }
});

for (const width of [1100, 390]) {
  test(`at ${width}px the sign-in page leads with the passkey, puts errors next to their field and has a skip link`, JOURNEY, async () => {
    const username = `carol${width}`;
    await createUser(server, username, { password: PASSWORD });
    const p = await openPage(browser, server);
    const { page } = p;
    try {
      await page.setViewportSize({ width, height: 860 });
      await page.goto('/');
      await waitState(p, 'signin');
      // The passkey comes first: in the document, on the screen, and as the primary button.
      const order = await page.evaluate(() => {
        const passkey = document.getElementById('passkey-signin');
        const form = document.getElementById('password-form');
        return {
          before: !!(passkey.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING),
          above: passkey.getBoundingClientRect().bottom <= form.getBoundingClientRect().top,
          primary: passkey.classList.contains('primary'),
          text: passkey.textContent.trim(),
        };
      });
      assert.deepEqual(order, { before: true, above: true, primary: true, text: 'Sign in with a passkey' });
      assert.equal(await page.getAttribute('#username', 'autocomplete'), 'username webauthn');
      await assertFits(p, 'the sign-in page');

      // The first Tab reaches the skip link, visible when focused; Enter moves to the content.
      await page.keyboard.press('Tab');
      const skip = await page.evaluate(() => {
        const a = document.activeElement;
        const r = a.getBoundingClientRect();
        return { text: a.textContent.trim(), href: a.getAttribute('href'), visible: r.top >= 0 && r.height > 0 };
      });
      assert.deepEqual(skip, { text: 'Skip to main content', href: '#main', visible: true });
      await page.keyboard.press('Enter');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');

      // An empty form: each field names its own error.
      await page.click('#password-signin');
      await waitText(p, '#username-error', 'Enter your username.');
      await waitText(p, '#password-error', 'Enter your password.');
      for (const field of ['username', 'password']) {
        assert.equal(await page.getAttribute(`#${field}`, 'aria-invalid'), 'true');
        assert.match(await page.getAttribute(`#${field}`, 'aria-describedby'), new RegExp(`\\b${field}-error\\b`));
      }
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'username', 'the first wrong field has focus');
      await assertNoMessage(p, 'after an empty submit');
      await screenshot(page, `sign-in-errors-${width}`);

      // A wrong password: the error sits at the password, the username is no longer marked.
      await page.fill('#username', username);
      await page.fill('#password', 'not the password');
      await page.click('#password-signin');
      await waitText(p, '#password-error', 'That username and password don\'t match. Check them and try again.');
      assert.equal(await page.getAttribute('#password', 'aria-invalid'), 'true');
      assert.equal(await page.getAttribute('#username', 'aria-invalid'), null);
      assert.equal(await page.locator('#username-error').isVisible(), false);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'password');
      assert.equal((await sessionOf(page)).authenticated, false);
      await assertFits(p, 'the sign-in page with errors');

      // The right password signs in (no second factor yet), and the errors are gone next time.
      await page.fill('#password', PASSWORD);
      await page.click('#password-signin');
      await waitState(p, 'account');
      p.assertClean(`the sign-in page journey at ${width}px`);
    } finally {
      await p.close();
    }
  });
}

test('the second-factor step names the account signing in', JOURNEY, async () => {
  await createUser(server, 'hank', { displayName: 'Hank', password: PASSWORD });
  const p = await openPage(browser, server, { authenticator: 'usb' });
  const { page } = p;
  const signIn = async () => {
    await page.fill('#username', 'hank');
    await page.fill('#password', PASSWORD);
    await page.click('#password-signin');
    await waitState(p, 'second-factor');
  };
  try {
    await page.goto('/');
    await waitState(p, 'signin');
    await page.fill('#username', 'hank');
    await page.fill('#password', PASSWORD);
    await page.click('#password-signin');
    await waitState(p, 'account');
    await page.click('#add-security-key');
    await answerNameDialog(p, 'Hank\'s key');
    await waitCount(p, '#credentials li.credential', 1);
    await setPresence(p, p.authenticatorId, false);
    await page.click('#signout');
    await waitState(p, 'signin');

    await signIn();
    await waitText(p, '#second-factor-who-line', 'Signing in as hank');
    assert.equal(await page.locator('#second-factor-who-line').isVisible(), true);
    assert.equal(await text(p, '#second-factor-who'), 'hank');
    await screenshot(page, 'second-factor-named');

    // Someone else: the name goes with the flow.
    await page.click('#second-factor-back');
    await waitState(p, 'signin');
    assert.equal(await page.locator('#second-factor-who-line').isVisible(), false);
    await signIn();
    assert.equal(await text(p, '#second-factor-who'), 'hank');
    await setPresence(p, p.authenticatorId, true);
    await page.click('#fido-continue');
    await waitState(p, 'account');
    assert.equal((await sessionOf(page)).username, 'hank');
    p.assertClean('the second-factor journey');
  } finally {
    await p.close();
  }
});
