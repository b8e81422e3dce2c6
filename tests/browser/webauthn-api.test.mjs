// Real Chromium WebAuthn against the REST contract, without the portal's script: a blank page on
// the server's origin (answered by Playwright, so no page script runs beside the test), in which
// the ceremonies run with `navigator.credentials` and the Level 3 JSON helpers, exactly as API.md
// promises a browser can use them.

import { after, before, test } from 'node:test';
import {
  assert, createUser, credentialsOf, launchBrowser, openPage, PASSWORD, sessionOf, startServer,
} from './harness.mjs';

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

// Runs in the page: one REST call with the CSRF header.
const REST = `async (method, path, body) => {
  const r = await fetch(path, {
    method,
    headers: { 'X-Same-Domain': '1', 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}`;

/** Opens a blank document on the server's origin. */
async function blank(page) {
  await page.route('**/blank-for-tests', (route) => route.fulfill({
    contentType: 'text/html', body: '<!doctype html><title>blank</title>',
  }));
  await page.goto('/blank-for-tests');
}

async function rest(page, method, path, body) {
  return page.evaluate(
    ([src, m, p, b]) => (0, eval)(`(${src})`)(m, p, b),
    [REST, method, path, body],
  );
}

test('Chromium signs up with a passkey and signs in with it through the REST API', { timeout: 60_000 }, async () => {
  const p = await openPage(browser, server);
  const { page } = p;
  await blank(page);

  assert.equal((await rest(page, 'POST', '/rest/public/user-self-registration/passkey-signup/select')).status, 200);
  const data = await rest(page, 'POST', '/rest/public/user-self-registration/user-data/continue', {
    username: 'api-alice', displayName: 'Alice API',
  });
  assert.equal(data.status, 200, JSON.stringify(data.body));
  const challenge = await rest(page, 'POST', '/rest/public/user-self-registration/fido/registration/challenge/retrieve', {
    displayName: 'Chromium passkey',
  });
  assert.equal(challenge.status, 200, JSON.stringify(challenge.body));
  const options = challenge.body.data.attributes.publicKeyCredentialCreationOptions;
  const created = await page.evaluate(async (json) => {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(json);
    const credential = await navigator.credentials.create({ publicKey });
    return credential.toJSON();
  }, options);
  const checked = await rest(page, 'POST', '/rest/public/user-self-registration/fido/registration/attestation-response/check', {
    publicKeyCredential: created,
  });
  assert.equal(checked.status, 200, JSON.stringify(checked.body));
  assert.equal((await sessionOf(page)).username, 'api-alice');
  const stored = await credentialsOf(p.cdp, p.authenticatorId);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].isResidentCredential, true, 'the sign-up passkey is discoverable');

  assert.equal((await rest(page, 'POST', '/rest/public/authentication/logout')).status, 200);
  assert.equal((await sessionOf(page)).authenticated, false);

  const access = await rest(page, 'POST', '/rest/public/authentication/applications/fido-passwordless/access');
  assert.equal(access.status, 401);
  const req = await rest(page, 'POST', '/rest/public/authentication/fido/challenge/retrieve', {});
  assert.equal(req.status, 200, JSON.stringify(req.body));
  const asserted = await page.evaluate(async (json) => {
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(json);
    const credential = await navigator.credentials.get({ publicKey });
    return credential.toJSON();
  }, req.body.data.attributes.publicKeyCredentialRequestOptions);
  const done = await rest(page, 'POST', '/rest/public/authentication/fido/assertion-response/check', {
    publicKeyCredential: asserted,
  });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal(done.body.data.attributes.nextAuthStep, undefined);
  const session = await sessionOf(page);
  assert.equal(session.authenticated, true);
  assert.equal(session.username, 'api-alice');
  p.assertClean();
  await p.close();
});

test('Chromium answers a password-then-FIDO login of an admin-created user', { timeout: 60_000 }, async () => {
  await createUser(server, 'api-bob', { displayName: 'Bob', password: PASSWORD });
  const p = await openPage(browser, server, { authenticator: 'usb' });
  const { page } = p;
  await blank(page);
  const pw = await rest(page, 'POST', '/rest/public/authentication/password/check', { username: 'api-bob', password: PASSWORD });
  assert.equal(pw.status, 200, JSON.stringify(pw.body));
  // No credential yet: the password completes the login; register a security key.
  assert.equal(pw.body.data.attributes.nextAuthStep, undefined);
  assert.equal((await rest(page, 'POST', '/rest/protected/self-service/flows/fido-registration/select')).status, 200);
  const ch = await rest(page, 'POST', '/rest/protected/self-service/fido/registration/challenge/retrieve', { displayName: 'Key' });
  assert.equal(ch.status, 200, JSON.stringify(ch.body));
  const created = await page.evaluate(async (json) => {
    const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(json) });
    return credential.toJSON();
  }, ch.body.data.attributes.publicKeyCredentialCreationOptions);
  const reg = await rest(page, 'POST', '/rest/protected/self-service/fido/registration/attestation-response/check', { publicKeyCredential: created });
  assert.equal(reg.status, 200, JSON.stringify(reg.body));

  await rest(page, 'POST', '/rest/public/authentication/logout');
  const pw2 = await rest(page, 'POST', '/rest/public/authentication/password/check', { username: 'api-bob', password: PASSWORD });
  assert.equal(pw2.body.data.attributes.nextAuthStep, 'FIDO_AUTHENTICATION_CHALLENGE_RETRIEVAL_REQUIRED');
  const req = await rest(page, 'POST', '/rest/public/authentication/fido/challenge/retrieve', {});
  assert.equal(req.body.data.attributes.publicKeyCredentialRequestOptions.allowCredentials.length, 1);
  const asserted = await page.evaluate(async (json) => {
    const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(json) });
    return credential.toJSON();
  }, req.body.data.attributes.publicKeyCredentialRequestOptions);
  const done = await rest(page, 'POST', '/rest/public/authentication/fido/assertion-response/check', { publicKeyCredential: asserted });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal((await sessionOf(page)).username, 'api-bob');
  p.assertClean();
  await p.close();
});
