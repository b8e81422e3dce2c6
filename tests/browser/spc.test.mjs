// Secure Payment Confirmation in real Chromium against the OneSpan-shaped API. The test plays the
// bank's backend (plain HTTP with `Authorization: Bearer <key>` and stringified FIDO messages, as
// in tests/api/onespan.rs) and the merchant's page: a page on the server's own origin, which is
// therefore the merchant origin of the payment. Chromium registers a payment passkey on a virtual
// authenticator, shows the payment the bank asked for (`PaymentRequest` with the
// `secure-payment-confirmation` method, accepted by DevTools instead of a person) and its signed
// `payment.get` answer is validated; the evidence then verifies offline with `fidoflow verify
// transaction`. Refusals: the same answer again (its requestID is spent) and an answer sent with
// another payment's requestID (its challenge is another payment's).

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assert, launchBrowser, openPage, STEP_TIMEOUT, startServer } from './harness.mjs';

/** The bank's tenant: its API path (base64url of "bank") and the key its backend presents. */
const ACCESS_PATH = 'YmFuaw';
const BANK_KEY = randomBytes(33).toString('base64');

/** A 1×1 PNG: the card's icon. The server takes https or data:image/ icons; its origin is http. */
const ICON = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const PAYEE_ORIGIN = 'https://acme.example';

// SPC's browser side is behind a feature that Linux builds of Chromium leave off by default;
// without it `new PaymentRequest` throws NotSupportedError (the payment method
// "secure-payment-confirmation" is not supported). Only this journey's browser gets the flag.
const SPC_FLAGS = ['--enable-features=SecurePaymentConfirmationBrowser'];

let server;
let browser;

before(async () => {
  const sha256 = createHash('sha256').update(BANK_KEY).digest('hex');
  server = await startServer({
    configToml: ({ origin }) => [
      '[[tenants]]',
      'id = "bank"',
      `access_path = "${ACCESS_PATH}"`,
      'rp_id = "localhost"',
      'rp_name = "Bank"',
      `origins = ["${origin}"]`,
      `api_keys = [{ name = "bank", sha256 = "${sha256}" }]`,
      '',
    ].join('\n'),
  });
  browser = await launchBrowser({ args: SPC_FLAGS });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Fails with a message when `promise` does not settle within `ms` (page.evaluate has no limit). */
function within(what, promise, ms = STEP_TIMEOUT) {
  let timer;
  const late = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** One call of the bank's backend to the OneSpan-shaped API: `{status, body}`. */
async function bank(path, body) {
  const r = await fetch(`${server.origin}/${ACCESS_PATH}/v1${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${BANK_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_TIMEOUT),
  });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: r.status, body: json };
}

/** A merchant page on the server's origin, with SPC dialogs accepted by DevTools. */
async function merchantPage() {
  const p = await openPage(browser, server);
  // Answered by Playwright: a blank document of the origin, no page script beside the test.
  await p.page.route('**/merchant-checkout', (route) => route.fulfill({
    contentType: 'text/html', body: '<!doctype html><title>checkout</title>',
  }));
  await p.page.goto('/merchant-checkout');
  // 'autoAccept' (camelCase; 'autoaccept' is refused): the browser's payment dialog is
  // confirmed as if the user had pressed "Verify".
  await p.cdp.send('Page.setSPCTransactionMode', { mode: 'autoAccept' });
  return p;
}

/** Makes `user` at the bank and registers a payment passkey on the page's authenticator. */
async function registerPaymentPasskey(p, user) {
  const made = await bank('/users', { userID: user, domain: 'master', displayName: `${user} (card holder)` });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  // SPC's registration processing refuses a payment credential unless user verification is
  // "required" and the authenticator is a "platform" one (Chromium: NotSupportedError "User
  // verification is required for 'payment' extension." / "A platform authenticator is required
  // for 'payment' extension."). `payment: true` alone leaves both at the server's defaults
  // (userVerification "preferred", no attachment), so the bank asks for them.
  const asked = await bank(`/users/${user}@master/generate-fido-registration-request`, {
    fidoProtocol: 'FIDO2', payment: true, userVerification: 'required', authenticatorAttachment: 'platform',
  });
  assert.equal(asked.status, 200, JSON.stringify(asked.body));
  const options = JSON.parse(asked.body.registrationRequest);
  assert.deepEqual(options.extensions?.payment, { isPayment: true }, JSON.stringify(options));
  assert.equal(options.authenticatorSelection?.userVerification, 'required', JSON.stringify(options));
  assert.equal(options.authenticatorSelection.authenticatorAttachment, 'platform', JSON.stringify(options));
  const credential = await within('navigator.credentials.create()', p.page.evaluate(async (json) => {
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(json);
    const created = await navigator.credentials.create({ publicKey });
    return JSON.stringify(created.toJSON());
  }, options));
  const done = await bank(`/users/${user}@master/register-fido-device`, {
    objectType: 'FIDORegistrationInput', registrationResponse: credential, requestID: asked.body.requestID,
  });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.equal(done.body.payment, true, JSON.stringify(done.body));
  return done.body;
}

function paymentDetails(value) {
  return {
    payeeName: 'ACME Corp',
    payeeOrigin: PAYEE_ORIGIN,
    total: { currency: 'EUR', value },
    instrument: { displayName: 'Visa ••••4242', icon: ICON },
    merchantOrigin: server.origin,
  };
}

/** The bank asks for a payment of `value` EUR: `{requestID, options, paymentRequest}`. */
async function askPayment(user, value) {
  const r = await bank(`/users/${user}@master/generate-fido-authentication-request`, {
    fidoProtocol: 'FIDO2', payment: paymentDetails(value),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(typeof r.body.paymentRequest, 'string', JSON.stringify(r.body));
  return {
    requestID: r.body.requestID,
    options: JSON.parse(r.body.authenticationRequest),
    paymentRequest: JSON.parse(r.body.paymentRequest),
  };
}

/**
 * The merchant page shows the bank's payment request (its base64url challenge and credential ids
 * decoded to bytes) and returns the answer as `credential.toJSON()` stringified, with its client
 * data. A refusal inside the page comes back as `error`, with SPC's availability beside it.
 */
async function confirmInBrowser(page, paymentRequest) {
  const shown = await within('PaymentRequest.show()', page.evaluate(async ({ methodData, details }) => {
    const bytes = (b64url) => Uint8Array.from(
      atob(b64url.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0),
    ).buffer;
    const methods = methodData.map((m) => ({
      supportedMethods: m.supportedMethods,
      data: { ...m.data, challenge: bytes(m.data.challenge), credentialIds: m.data.credentialIds.map(bytes) },
    }));
    try {
      const request = new PaymentRequest(methods, details);
      const response = await request.show();
      await response.complete('success');
      return {
        methodName: response.methodName,
        credential: JSON.stringify(response.details.toJSON()),
        clientData: new TextDecoder().decode(response.details.response.clientDataJSON),
      };
    } catch (e) {
      const availability = await PaymentRequest.securePaymentConfirmationAvailability?.()
        .catch((x) => `${x}`);
      return { error: `${e.name}: ${e.message}`, availability };
    }
  }, paymentRequest));
  assert.equal(shown.error, undefined, `show() failed: ${JSON.stringify(shown)}`);
  assert.equal(shown.methodName, 'secure-payment-confirmation');
  return { credential: shown.credential, clientData: JSON.parse(shown.clientData) };
}

async function validate(user, requestID, credential) {
  return bank(`/users/${user}@master/transactions/validate`, {
    objectType: 'TransactionValidationInput',
    data: { fido: { authenticationResponse: credential, requestID } },
  });
}

/** `fidoflow verify transaction --key <served key> <evidence>`: `{status, output}`. */
async function verifyOffline(evidence) {
  const r = await fetch(`${server.origin}/.well-known/fidoflow/evidence-key.pem`, {
    signal: AbortSignal.timeout(STEP_TIMEOUT),
  });
  assert.equal(r.status, 200);
  const pem = await r.text();
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
  const dir = mkdtempSync(join(tmpdir(), 'fidoflow-spc-evidence-'));
  try {
    const [evidenceFile, keyFile] = [join(dir, 'evidence.json'), join(dir, 'evidence-key.pem')];
    writeFileSync(evidenceFile, JSON.stringify(evidence));
    writeFileSync(keyFile, pem);
    const run = spawnSync(server.bin, ['verify', 'transaction', '--key', keyFile, evidenceFile], {
      encoding: 'utf8', timeout: STEP_TIMEOUT,
    });
    assert.equal(run.error, undefined, `fidoflow verify transaction: ${run.error}`);
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('Chromium confirms a bank\'s payment with SPC; the evidence verifies offline and the answer is not taken twice', { timeout: 90_000 }, async () => {
  const p = await merchantPage();
  try {
    const registered = await registerPaymentPasskey(p, 'alice');

    const payment = await askPayment('alice', '12.50');
    const [method] = payment.paymentRequest.methodData;
    assert.equal(method.supportedMethods, 'secure-payment-confirmation');
    assert.equal(method.data.challenge, payment.options.challenge);
    assert.deepEqual(method.data.credentialIds, [registered.authenticatorID]);
    assert.equal(method.data.rpId, 'localhost');
    assert.deepEqual(payment.paymentRequest.details.total.amount, { currency: 'EUR', value: '12.50' });

    const shown = await confirmInBrowser(p.page, payment.paymentRequest);
    // What Chromium wrote into the signed client data: the payment as it showed it.
    const { clientData } = shown;
    assert.equal(clientData.type, 'payment.get', JSON.stringify(clientData));
    assert.equal(clientData.origin, server.origin);
    assert.equal(clientData.challenge, payment.options.challenge);
    assert.equal(clientData.payment?.rpId, 'localhost', JSON.stringify(clientData));
    assert.equal(clientData.payment.topOrigin, server.origin);
    assert.equal(clientData.payment.payeeName, 'ACME Corp');
    assert.equal(clientData.payment.payeeOrigin, PAYEE_ORIGIN);
    assert.deepEqual(clientData.payment.total, { currency: 'EUR', value: '12.50' });

    const ok = await validate('alice', payment.requestID, shown.credential);
    assert.equal(ok.status, 200, `${JSON.stringify(ok.body)}\nclientDataJSON: ${JSON.stringify(clientData)}`);
    assert.equal(ok.body.result.status, 'APPROVED');
    const { evidence } = ok.body.result;
    assert.equal(evidence.mode, 'spc');
    assert.equal(evidence.tenant, 'bank');
    assert.deepEqual(evidence.payment.total, { currency: 'EUR', value: '12.50' });
    assert.equal(evidence.payment.payeeName, 'ACME Corp');
    assert.equal(evidence.credential.id, registered.authenticatorID);

    const offline = await verifyOffline(evidence);
    assert.equal(offline.status, 0, offline.output);
    assert.match(offline.output, /evidence verifies/, offline.output);
    assert.match(offline.output, /\(spc\)/, offline.output);

    // The same answer again: its requestID was spent by the approval.
    const again = await validate('alice', payment.requestID, shown.credential);
    assert.equal(again.status, 400, JSON.stringify(again.body));
    assert.match(again.body.message, /requestID/, JSON.stringify(again.body));
    p.assertClean();
  } finally {
    await p.close();
  }
});

test('a payment Chromium confirmed is refused under another payment\'s requestID, naming the challenge', { timeout: 90_000 }, async () => {
  const p = await merchantPage();
  try {
    await registerPaymentPasskey(p, 'bob');
    const small = await askPayment('bob', '12.50');
    const large = await askPayment('bob', '99.00');
    assert.notEqual(small.options.challenge, large.options.challenge);

    // Bob sees and confirms 12.50; the merchant hands the answer in as the 99.00 payment.
    const shown = await confirmInBrowser(p.page, small.paymentRequest);
    assert.deepEqual(shown.clientData.payment?.total, { currency: 'EUR', value: '12.50' });
    const swapped = await validate('bob', large.requestID, shown.credential);
    assert.equal(swapped.status, 400, JSON.stringify(swapped.body));
    assert.match(swapped.body.message, /challenge/, JSON.stringify(swapped.body));

    // Under its own requestID the same answer is the 12.50 payment Bob approved.
    const own = await validate('bob', small.requestID, shown.credential);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual(own.body.result.evidence.payment.total, { currency: 'EUR', value: '12.50' });
    p.assertClean();
  } finally {
    await p.close();
  }
});
