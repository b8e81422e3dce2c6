//! `fidoflow verify`'s verify policies, the real binary run on responses made here: an
//! android-safetynet registration (its JWS signed by a test certificate issued to
//! attest.android.com) whose timestamp, ctsProfileMatch and basicIntegrity a test chooses, and
//! responses whose client data type a test chooses. Each flag relaxes its own check and no other.

use base64::Engine as _;
use chrono::{DateTime, SubsecRound, Utc};
use ciborium::value::Value as Cbor;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};

#[path = "common/pki.rs"]
#[allow(dead_code)]
mod pki;

#[path = "common/cli.rs"]
mod cli;

use cli::{run_with_stdin, stderr, stdout};

const RP_ID: &str = "example.org";
const ORIGIN: &str = "https://example.org";
const CHALLENGE: [u8; 32] = [9; 32];
const CREDENTIAL_ID: [u8; 16] = [0xc4; 16];

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR");
    out
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.into())
}

fn int(i: i64) -> Cbor {
    Cbor::Integer(i.into())
}

/// The verification time every run is given (`--at`), to the second.
fn at() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A P-256 credential key.
struct Credential(EcdsaKeyPair);

impl Credential {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng);
        Self(key.unwrap())
    }

    fn cose(&self) -> Vec<u8> {
        let point = self.0.public_key().as_ref();
        cbor(&Cbor::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), Cbor::Bytes(point[1..33].to_vec())),
            (int(-3), Cbor::Bytes(point[33..65].to_vec())),
        ]))
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature = self.0.sign(&SystemRandom::new(), message).unwrap();
        signature.as_ref().to_vec()
    }
}

fn client_data(kind: &str) -> Vec<u8> {
    json!({"type": kind, "challenge": b64url(&CHALLENGE), "origin": ORIGIN})
        .to_string()
        .into_bytes()
}

/// An android-safetynet registration as the test asks for it.
struct SafetyNet {
    client_type: &'static str,
    /// `timestampMs` this far before `at`.
    age_ms: i64,
    cts: bool,
    basic_integrity: bool,
}

impl SafetyNet {
    fn good() -> Self {
        Self {
            client_type: "webauthn.create",
            age_ms: 5_000,
            cts: true,
            basic_integrity: true,
        }
    }

    /// The response JSON (`credential.toJSON()`), made for verification at `at`.
    fn response(&self, at: DateTime<Utc>) -> Value {
        let credential = Credential::new();
        let mut auth_data = sha256(RP_ID.as_bytes());
        auth_data.push(0x45); // UP, UV, AT
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0x22; 16]);
        auth_data.extend_from_slice(&(CREDENTIAL_ID.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&CREDENTIAL_ID);
        auth_data.extend_from_slice(&credential.cose());
        let client_data = client_data(self.client_type);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&client_data));
        let root = pki::root_ca("SafetyNet Test Root");
        let chain = pki::attestation_chain(
            &root,
            &[],
            pki::LeafOptions {
                common_name: Some("attest.android.com".into()),
                ..pki::LeafOptions::default()
            },
        );
        let jws = chain.sign_jws(&json!({
            "nonce": base64::engine::general_purpose::STANDARD.encode(sha256(&signed)),
            "timestampMs": at.timestamp_millis() - self.age_ms,
            "ctsProfileMatch": self.cts,
            "basicIntegrity": self.basic_integrity,
            "apkPackageName": "com.google.android.gms",
        }));
        let object = cbor(&Cbor::Map(vec![
            (text("fmt"), text("android-safetynet")),
            (
                text("attStmt"),
                Cbor::Map(vec![
                    (text("ver"), text("201813046")),
                    (text("response"), Cbor::Bytes(jws.into_bytes())),
                ]),
            ),
            (text("authData"), Cbor::Bytes(auth_data)),
        ]));
        json!({
            "id": b64url(&CREDENTIAL_ID),
            "rawId": b64url(&CREDENTIAL_ID),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(&client_data),
                "attestationObject": b64url(&object),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        })
    }
}

/// An assertion whose client data says `kind`, and the COSE key that verifies it.
fn assertion(kind: &str) -> (Value, Vec<u8>) {
    let credential = Credential::new();
    let mut auth_data = sha256(RP_ID.as_bytes());
    auth_data.push(0x05); // UP, UV
    auth_data.extend_from_slice(&7u32.to_be_bytes());
    let client_data = client_data(kind);
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&sha256(&client_data));
    let response = json!({
        "id": b64url(&CREDENTIAL_ID),
        "rawId": b64url(&CREDENTIAL_ID),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(&client_data),
            "authenticatorData": b64url(&auth_data),
            "signature": b64url(&credential.sign(&signed)),
            "userHandle": null,
        },
        "clientExtensionResults": {},
    });
    (response, credential.cose())
}

/// `fidoflow verify CEREMONY` with the test's challenge, RP ID, origin and `--at`, then `extra`,
/// on `response` piped to stdin: the exit status and the printed report.
fn verify(ceremony: &str, response: &Value, at: DateTime<Utc>, extra: &[&str]) -> (i32, String) {
    let challenge = b64url(&CHALLENGE);
    let at = at.to_rfc3339();
    let mut args = vec![
        "verify",
        ceremony,
        "--challenge",
        &challenge,
        "--rp-id",
        RP_ID,
        "--origin",
        ORIGIN,
        "--at",
        &at,
    ];
    args.extend_from_slice(extra);
    let out = run_with_stdin(&args, response.to_string().as_bytes());
    let status = out.status.code().expect("an exit status");
    (status, format!("{}{}", stdout(&out), stderr(&out)))
}

/// The report's line for check `name`.
fn line<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} in\n{report}"))
}

#[test]
fn a_stale_safetynet_response_is_accepted_without_the_timestamp_check_or_with_a_window_that_holds_it(
) {
    let at = at();
    let stale = SafetyNet {
        age_ms: 7_200_000,
        ..SafetyNet::good()
    }
    .response(at);

    let (status, report) = verify("registration", &stale, at, &[]);
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("Result: REFUSED (attestationStatement): the attestation statement is invalid: the JWS timestampMs is 7200 s from the verification time (at most 60 s allowed)"),
        "{report}"
    );

    let (status, report) = verify("registration", &stale, at, &["--no-safetynet-timestamp"]);
    assert_eq!(status, 0, "{report}");
    assert!(line(&report, "android-safetynet.timestamp").starts_with("  skipped"));
    assert!(report.contains("Result: VERIFIED: android-safetynet attestation (basic), untrusted"));

    let (status, report) = verify("registration", &stale, at, &["--safetynet-max-age", "7200"]);
    assert_eq!(status, 0, "{report}");
    let checked = line(&report, "android-safetynet.timestamp");
    assert!(
        checked.starts_with("  pass") && checked.contains("within 7200 s"),
        "{checked}"
    );

    let (status, report) = verify("registration", &stale, at, &["--safetynet-max-age=7199"]);
    assert_eq!(status, 1, "{report}");
    assert!(report.contains("(at most 7199 s allowed)"), "{report}");

    // A fresh response passes the default 60 s window, reported as such.
    let (status, report) = verify("registration", &SafetyNet::good().response(at), at, &[]);
    assert_eq!(status, 0, "{report}");
    assert!(line(&report, "android-safetynet.timestamp").contains("within 60 s"));
}

#[test]
fn a_safetynet_response_without_cts_profile_match_needs_the_flag_and_never_passes_without_basic_integrity(
) {
    let at = at();
    let no_cts = SafetyNet {
        cts: false,
        ..SafetyNet::good()
    }
    .response(at);
    let (status, report) = verify("registration", &no_cts, at, &[]);
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("REFUSED (attestationStatement)")
            && report.contains("the JWS does not say ctsProfileMatch: true"),
        "{report}"
    );
    let (status, report) = verify("registration", &no_cts, at, &["--no-cts-profile-match"]);
    assert_eq!(status, 0, "{report}");
    assert!(line(&report, "android-safetynet.ctsProfileMatch").starts_with("  skipped"));
    assert!(line(&report, "android-safetynet.basicIntegrity").starts_with("  pass"));

    let no_integrity = SafetyNet {
        cts: false,
        basic_integrity: false,
        ..SafetyNet::good()
    }
    .response(at);
    for extra in [
        &[][..],
        &["--no-cts-profile-match"],
        &["--no-cts-profile-match", "--no-safetynet-timestamp"],
    ] {
        let (status, report) = verify("registration", &no_integrity, at, extra);
        assert_eq!(status, 1, "{extra:?}: {report}");
        assert!(
            report.contains("REFUSED (attestationStatement)")
                && report.contains("the JWS does not say basicIntegrity: true"),
            "{extra:?}: {report}"
        );
    }
}

#[test]
fn a_payment_get_assertion_is_refused_by_default_and_accepted_when_expected() {
    let at = at();
    let (response, key) = assertion("payment.get");
    let key = b64url(&key);
    let (status, report) = verify("authentication", &response, at, &["--public-key", &key]);
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("Result: REFUSED (type): the client data type \"payment.get\" is not an accepted one (\"webauthn.get\")"),
        "{report}"
    );

    let expected = ["--public-key", &key, "--expected-type", "payment.get"];
    let (status, report) = verify("authentication", &response, at, &expected);
    assert_eq!(status, 0, "{report}");
    assert!(
        line(&report, "type").contains("\"payment.get\" (accepted: \"payment.get\")"),
        "{report}"
    );

    // A type outside the list is refused naming the check, the type and the list.
    let others = [
        "--public-key",
        &key,
        "--expected-type",
        "webauthn.get",
        "--expected-type",
        "example.get",
    ];
    let (status, report) = verify("authentication", &response, at, &others);
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("Result: REFUSED (type): the client data type \"payment.get\" is not an accepted one (\"webauthn.get\", \"example.get\")"),
        "{report}"
    );
}

#[test]
fn a_registration_of_another_type_is_accepted_only_when_expected() {
    let at = at();
    let response = SafetyNet {
        client_type: "example.create",
        ..SafetyNet::good()
    }
    .response(at);
    let (status, report) = verify("registration", &response, at, &[]);
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("REFUSED (type): the client data type \"example.create\" is not an accepted one (\"webauthn.create\")"),
        "{report}"
    );
    let expected = [
        "--expected-type",
        "webauthn.create",
        "--expected-type",
        "example.create",
    ];
    let (status, report) = verify("registration", &response, at, &expected);
    assert_eq!(status, 0, "{report}");
}

#[test]
fn policy_flags_that_cannot_hold_are_usage_errors() {
    let at = at();
    let registration = SafetyNet::good().response(at);
    for (extra, said) in [
        (
            &["--expected-type", "webauthn.get"][..],
            "--expected-type: `webauthn.get` is the type of the other ceremony",
        ),
        (
            &["--expected-type", "a b"],
            "--expected-type: `a b` is not a client data type",
        ),
        (
            &["--safetynet-max-age", "0"],
            "--safetynet-max-age \"0\" is not a number of seconds from 1 to 86400",
        ),
        (&["--safetynet-max-age", "86401"], "from 1 to 86400"),
        (&["--safetynet-max-age", "1m"], "from 1 to 86400"),
        (
            &["--safetynet-max-age"],
            "--safetynet-max-age needs a value",
        ),
        (
            &["--no-safetynet-timestamp", "--safetynet-max-age", "60"],
            "give one of them",
        ),
        (
            &["--no-cts-profile-match=yes"],
            "--no-cts-profile-match takes no value",
        ),
        (
            &["--no-cts-profile-match", "--no-cts-profile-match"],
            "--no-cts-profile-match is given twice",
        ),
    ] {
        let (status, report) = verify("registration", &registration, at, extra);
        assert_eq!(status, 2, "{extra:?}: {report}");
        assert!(report.contains(said), "{extra:?}: {report}");
    }
    let (assertion, key) = assertion("webauthn.get");
    let key = b64url(&key);
    for (extra, said) in [
        (
            &["--expected-type", "webauthn.create"][..],
            "`webauthn.create` is the type of the other ceremony",
        ),
        (
            &["--no-cts-profile-match"],
            "unknown option --no-cts-profile-match",
        ),
        (
            &["--safetynet-max-age", "60"],
            "unknown option --safetynet-max-age",
        ),
    ] {
        let mut args = vec!["--public-key", key.as_str()];
        args.extend_from_slice(extra);
        let (status, report) = verify("authentication", &assertion, at, &args);
        assert_eq!(status, 2, "{extra:?}: {report}");
        assert!(report.contains(said), "{extra:?}: {report}");
    }
}

#[test]
fn the_help_names_each_policy_flag_with_its_server_setting() {
    let out = run_with_stdin(&["verify", "registration", "--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for (flag, key) in [
        (
            "--expected-type TYPE",
            "relying_party.expected_registration_types",
        ),
        (
            "--no-safetynet-timestamp",
            "attestation.safetynet_timestamp = false",
        ),
        (
            "--safetynet-max-age SECONDS",
            "attestation.safetynet_max_age",
        ),
        (
            "--no-cts-profile-match",
            "attestation.safetynet_cts_profile_match = false",
        ),
    ] {
        assert!(
            help.contains(flag) && help.contains(key),
            "{flag} {key}:\n{help}"
        );
    }
}
