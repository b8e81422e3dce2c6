//! Property-based fuzzing of every parser that takes attacker input (proptest, stable Rust).
//!
//! Properties: no input panics (proptest runs each case inside the test and a panic fails it,
//! shrunk to a small input); inputs are bounded in size by the strategies and every call must
//! return; with `FIDOFLOW_FUZZ_CASES` set in a release build (`cargo test --release`), every call
//! must also return within 50 ms. The default number of cases is small so that `cargo test`
//! stays fast; `FIDOFLOW_FUZZ_CASES=N` raises it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ciborium::value::Value as Cbor;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::Config;
use serde_json::{json, Value};

use super::*;
use crate::fido::auth_data::AuthData;
use crate::fido::client_data::{self, Expected};
use crate::fido::cose::CoseKey;
use crate::fido::report::Observer;
use crate::fido::{cbor as cbor_helpers, mds, verify_registration, AttestationPolicy};

/// Cases per property in a default `cargo test`.
const DEFAULT_CASES: u32 = 256;
/// The time bound of one call, checked in release builds of a long run.
const TIME_BOUND: Duration = Duration::from_millis(50);

fn long_run() -> Option<u32> {
    std::env::var("FIDOFLOW_FUZZ_CASES")
        .ok()
        .and_then(|n| n.trim().parse().ok())
}

pub fn config() -> Config {
    Config {
        cases: long_run().unwrap_or(DEFAULT_CASES),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `f`; in a long release run, fails if it took longer than [`TIME_BOUND`].
pub fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    if long_run().is_some() && !cfg!(debug_assertions) {
        assert!(took <= TIME_BOUND, "{what} took {took:?}");
    }
    out
}

// ---- generators ----

fn bytes(max: usize) -> BoxedStrategy<Vec<u8>> {
    bytes_inner(max).boxed()
}

fn bytes_inner(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

/// Flips, overwrites, truncates or extends `data` a few times.
fn mutate(mut data: Vec<u8>, edits: &[(Index, u8, u8)]) -> Vec<u8> {
    for (at, byte, op) in edits {
        if data.is_empty() {
            data.push(*byte);
            continue;
        }
        let i = at.index(data.len());
        match op % 4 {
            0 => data[i] ^= 1 << (byte % 8),
            1 => data[i] = *byte,
            2 => data.truncate(i),
            _ => data.insert(i, *byte),
        }
    }
    data
}

fn edits() -> BoxedStrategy<Vec<(Index, u8, u8)>> {
    edits_inner().boxed()
}

fn edits_inner() -> impl Strategy<Value = Vec<(Index, u8, u8)>> {
    vec((any::<Index>(), any::<u8>(), any::<u8>()), 0..4)
}

const NAMES: &[&str] = &[
    "fmt",
    "attStmt",
    "authData",
    "alg",
    "sig",
    "x5c",
    "ver",
    "certInfo",
    "pubArea",
    "response",
    "ecdaaKeyId",
    "credProtect",
    "hmac-secret",
    "credBlob",
    "largeBlobKey",
    "",
    "x",
];

fn cbor_key() -> BoxedStrategy<Cbor> {
    cbor_key_inner().boxed()
}

fn cbor_key_inner() -> impl Strategy<Value = Cbor> {
    prop_oneof![
        (-5i64..5).prop_map(int),
        select(NAMES).prop_map(text),
        any::<i64>().prop_map(int),
        bytes(4).prop_map(Cbor::Bytes),
    ]
}

fn cbor_value() -> BoxedStrategy<Cbor> {
    cbor_value_inner().boxed()
}

fn cbor_value_inner() -> impl Strategy<Value = Cbor> {
    let leaf = prop_oneof![
        (-300i64..300).prop_map(int),
        any::<i64>().prop_map(int),
        any::<u64>().prop_map(|u| Cbor::Integer(u.into())),
        bytes(80).prop_map(Cbor::Bytes),
        select(NAMES).prop_map(text),
        any::<bool>().prop_map(Cbor::Bool),
        Just(Cbor::Null),
        any::<f64>().prop_map(Cbor::Float),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Cbor::Array),
            vec((cbor_key(), inner.clone()), 0..8).prop_map(Cbor::Map),
            (any::<u64>(), inner).prop_map(|(t, v)| Cbor::Tag(t, Box::new(v))),
        ]
    })
}

/// Raw CBOR: random bytes, or a generated item's encoding, possibly mutated.
fn cbor_bytes() -> BoxedStrategy<Vec<u8>> {
    cbor_bytes_inner().boxed()
}

fn cbor_bytes_inner() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bytes(256),
        (cbor_value(), edits()).prop_map(|(v, e)| mutate(cbor(&v), &e)),
        // Heads claiming huge lengths or deep nesting.
        (
            select(&[0x5bu8, 0x7b, 0x9b, 0xbb, 0x5a, 0x9f, 0xbf, 0x81, 0xa1][..]),
            bytes(16)
        )
            .prop_map(|(h, rest)| {
                let mut out = vec![h];
                out.extend(rest);
                out
            }),
        (1usize..2000).prop_map(|n| vec![0x81; n]),
    ]
}

fn test_key() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(Key::generate)
}

fn key_material() -> BoxedStrategy<Vec<u8>> {
    key_material_inner().boxed()
}

fn key_material_inner() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        select(&[0usize, 1, 31, 32, 33, 48, 56, 57, 64, 65, 66, 67, 256, 512][..])
            .prop_flat_map(|n| vec(any::<u8>(), n..=n)),
        bytes(600),
        Just(test_key().point()[1..33].to_vec()),
        Just(test_key().point()[33..65].to_vec()),
    ]
}

/// A COSE_Key map with random kty, alg, crv and key members of random lengths.
fn cose_map() -> BoxedStrategy<Cbor> {
    cose_map_inner().boxed()
}

fn cose_map_inner() -> impl Strategy<Value = Cbor> {
    (
        prop_oneof![select(&[1i64, 2, 3, 4, 0, -1][..]), any::<i64>()],
        prop_oneof![
            select(&[-7i64, -8, -35, -36, -37, -38, -39, -257, -258, -259, -65535, -47, 0, 1][..]),
            any::<i64>()
        ],
        prop_oneof![select(&[1i64, 2, 3, 4, 5, 6, 7, 0][..]), any::<i64>()],
        key_material(),
        key_material(),
        key_material(),
        any::<u8>(),
        vec((cbor_key(), cbor_value()), 0..3),
    )
        .prop_map(|(kty, alg, crv, a, b, c, present, extra)| {
            let mut m = Vec::new();
            let mut add = |bit: u8, k: i64, v: Cbor| {
                if present & bit == 0 {
                    m.push((int(k), v));
                }
            };
            add(1, 1, int(kty));
            add(2, 3, int(alg));
            add(
                4,
                -1,
                if kty == 3 {
                    Cbor::Bytes(a.clone())
                } else {
                    int(crv)
                },
            );
            add(8, -2, Cbor::Bytes(if kty == 3 { b.clone() } else { a }));
            add(16, -3, Cbor::Bytes(if kty == 3 { c } else { b }));
            if present & 32 != 0 {
                m.extend(extra);
            }
            Cbor::Map(m)
        })
}

fn cose_bytes() -> BoxedStrategy<Vec<u8>> {
    cose_bytes_inner().boxed()
}

fn cose_bytes_inner() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => cose_map().prop_map(|m| cbor(&m)),
        1 => (cose_map(), edits()).prop_map(|(m, e)| mutate(cbor(&m), &e)),
        1 => cbor_bytes(),
        1 => Just(test_key().cose(-7)),
    ]
}

/// Authenticator data with random flags, lengths, keys and extensions.
fn auth_data_bytes() -> BoxedStrategy<Vec<u8>> {
    auth_data_bytes_inner().boxed()
}

fn auth_data_bytes_inner() -> impl Strategy<Value = Vec<u8>> {
    let shaped = (
        prop_oneof![Just(sha256(RP_ID.as_bytes())), vec(any::<u8>(), 32..=32)],
        any::<u8>(),
        any::<u32>(),
        any::<[u8; 16]>(),
        prop_oneof![
            Just(None),
            any::<u16>().prop_map(Some),
            (0u16..1100).prop_map(Some)
        ],
        prop_oneof![bytes(64), vec(any::<u8>(), 1020..1030)],
        cose_bytes(),
        prop_oneof![
            Just(Vec::new()),
            cbor_bytes(),
            vec((cbor_key(), cbor_value()), 0..4).prop_map(|m| cbor(&Cbor::Map(m))),
        ],
        bytes(8),
    )
        .prop_map(
            |(rp, flags, count, aaguid, len_field, id, key, ext, trailing)| {
                let mut out = rp;
                out.push(flags);
                out.extend_from_slice(&count.to_be_bytes());
                if flags & AT != 0 {
                    out.extend_from_slice(&aaguid);
                    let len = len_field.unwrap_or(id.len() as u16);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(&id);
                    out.extend_from_slice(&key);
                }
                out.extend_from_slice(&ext);
                out.extend_from_slice(&trailing);
                out
            },
        );
    prop_oneof![4 => shaped, 1 => bytes(128)]
}

fn json_value() -> BoxedStrategy<Value> {
    json_value_inner().boxed()
}

fn json_value_inner() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(JSON_WORDS).prop_map(Value::from),
        bytes(48).prop_map(|b| Value::from(b64url(&b))),
        bytes(24).prop_map(|b| Value::from(String::from_utf8_lossy(&b).into_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((select(JSON_WORDS), inner), 0..6).prop_map(|members| {
                Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

const JSON_WORDS: &[&str] = &[
    "id",
    "rawId",
    "type",
    "response",
    "clientDataJSON",
    "attestationObject",
    "authenticatorData",
    "signature",
    "userHandle",
    "transports",
    "challenge",
    "origin",
    "crossOrigin",
    "topOrigin",
    "tokenBinding",
    "public-key",
    "webauthn.create",
    "webauthn.get",
    ORIGIN,
    "no",
    "nextUpdate",
    "entries",
    "aaguid",
    "metadataStatement",
    "statusReports",
    "status",
    "effectiveDate",
    "attestationRootCertificates",
    "attestationCertificateKeyIdentifiers",
    "legalHeader",
    "authenticatorVersion",
    "certificate",
    "alg",
    "FIDO_CERTIFIED",
    "REVOKED",
    "2025-01-01",
    "2030-12-31",
    "11111111-1111-1111-1111-111111111111",
    "",
];

// ---- certificates for x5c ----

struct Pool {
    ders: Vec<Vec<u8>>,
    leaf_pkcs8: Vec<u8>,
    root_pem: String,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let pki = Pki::new();
        Pool {
            ders: vec![pki.leaf.der(), pki.intermediate.der(), pki.root.der()],
            leaf_pkcs8: pki.leaf.key.serialize_der(),
            root_pem: pki.root.pem(),
        }
    })
}

fn cert_der() -> BoxedStrategy<Vec<u8>> {
    cert_der_inner().boxed()
}

fn cert_der_inner() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (0usize..3).prop_map(|i| pool().ders[i].clone()),
        3 => ((0usize..3), edits()).prop_map(|(i, e)| mutate(pool().ders[i].clone(), &e)),
        1 => bytes(200),
    ]
}

/// An x5c chain: mostly leaf and intermediate, sometimes spoiled or random.
fn chain() -> BoxedStrategy<Vec<Vec<u8>>> {
    let good = || vec![pool().ders[0].clone(), pool().ders[1].clone()];
    prop_oneof![
        3 => Just(good()),
        2 => vec(cert_der(), 0..4),
        2 => (0usize..2, edits()).prop_map(move |(i, e)| {
            let mut chain = good();
            chain[i] = mutate(chain[i].clone(), &e);
            chain
        }),
    ]
    .boxed()
}

fn x5c_value() -> BoxedStrategy<Cbor> {
    x5c_value_inner().boxed()
}

fn x5c_value_inner() -> impl Strategy<Value = Cbor> {
    prop_oneof![
        4 => vec(cert_der().prop_map(Cbor::Bytes), 0..4).prop_map(Cbor::Array),
        1 => cbor_value(),
    ]
}

const FORMATS: &[&str] = &[
    "none",
    "packed",
    "fido-u2f",
    "tpm",
    "android-key",
    "android-safetynet",
    "apple",
    "compound",
    "unknown",
];

/// An attestation statement map with the members the formats read, random values.
fn statement_map() -> BoxedStrategy<Cbor> {
    statement_map_inner().boxed()
}

fn statement_map_inner() -> impl Strategy<Value = Cbor> {
    (
        prop_oneof![select(&[-7i64, -8, -35, -257, -65535, 0][..]), any::<i64>()],
        prop_oneof![bytes(80), vec(any::<u8>(), 70..=72)],
        x5c_value(),
        prop_oneof![Just(text("2.0")), Just(text("14799021")), cbor_value()],
        cbor_bytes(),
        bytes(200),
        any::<u8>(),
        vec((cbor_key(), cbor_value()), 0..2),
    )
        .prop_map(
            |(alg, sig, x5c, ver, cert_info, pub_area, present, extra)| {
                let mut m = Vec::new();
                let mut add = |bit: u8, k: &str, v: Cbor| {
                    if present & bit == 0 {
                        m.push((text(k), v));
                    }
                };
                add(1, "alg", int(alg));
                add(2, "sig", Cbor::Bytes(sig));
                add(4, "x5c", x5c);
                add(8, "ver", ver);
                add(16, "certInfo", Cbor::Bytes(cert_info));
                add(32, "pubArea", Cbor::Bytes(pub_area.clone()));
                add(64, "response", Cbor::Bytes(pub_area));
                if present & 128 != 0 {
                    m.extend(extra);
                }
                Cbor::Map(m)
            },
        )
}

fn statement() -> BoxedStrategy<(String, Cbor)> {
    statement_inner().boxed()
}

fn statement_inner() -> impl Strategy<Value = (String, Cbor)> {
    prop_oneof![
        (select(FORMATS), statement_map()).prop_map(|(f, s)| (f.to_string(), s)),
        vec((select(FORMATS), statement_map()), 0..3).prop_map(|items| {
            let items = items
                .into_iter()
                .map(|(f, s)| Cbor::Map(vec![(text("fmt"), text(f)), (text("attStmt"), s)]))
                .collect();
            ("compound".to_string(), Cbor::Array(items))
        }),
    ]
}

/// A registration built like a software authenticator's, then spoiled at random.
#[derive(Debug, Clone)]
struct RegPlan {
    att: u8,
    raw: (String, Cbor),
    x5c: Vec<Vec<u8>>,
    flags: u8,
    credential_id: Vec<u8>,
    cose_key: Option<Vec<u8>>,
    extensions: Option<Vec<u8>>,
    trailing: Vec<u8>,
    self_alg: i64,
    tamper: bool,
    object_edits: Vec<(Index, u8, u8)>,
    require_trusted: bool,
}

fn reg_plan() -> BoxedStrategy<RegPlan> {
    reg_plan_inner().boxed()
}

fn reg_plan_inner() -> impl Strategy<Value = RegPlan> {
    (
        (0u8..5, statement(), chain()),
        prop_oneof![6 => Just(UP | UV | AT), 1 => any::<u8>()],
        prop_oneof![4 => Just(vec![0xc1; 32]), 1 => bytes(80)],
        prop_oneof![5 => Just(None), 1 => cose_bytes().prop_map(Some)],
        prop_oneof![
            5 => Just(None),
            1 => cbor_bytes().prop_map(Some),
            1 => vec((cbor_key(), cbor_value()), 0..3).prop_map(|m| Some(cbor(&Cbor::Map(m))))
        ],
        prop_oneof![8 => Just(Vec::new()), 1 => bytes(8)],
        (
            select(&[-7i64, -8, -257, 0][..]),
            any::<bool>(),
            prop_oneof![5 => Just(Vec::new()), 1 => edits()],
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (att, raw, x5c),
                flags,
                credential_id,
                cose_key,
                extensions,
                trailing,
                (self_alg, tamper, object_edits, require_trusted),
            )| RegPlan {
                att,
                raw,
                x5c,
                flags,
                credential_id,
                cose_key,
                extensions,
                trailing,
                self_alg,
                tamper,
                object_edits,
                require_trusted,
            },
        )
}

fn build(plan: &RegPlan) -> Value {
    let signer = || Key::from_pkcs8(&pool().leaf_pkcs8);
    let att = match plan.att {
        0 => Att::None,
        1 => Att::SelfPacked { alg: plan.self_alg },
        2 => Att::Packed {
            x5c: plan.x5c.clone(),
            signer: signer(),
        },
        3 => Att::U2f {
            x5c: plan.x5c.clone(),
            signer: signer(),
        },
        _ => Att::Raw {
            fmt: plan.raw.0.clone(),
            stmt: plan.raw.1.clone(),
        },
    };
    let mut reg = Reg::with(att);
    reg.key = Key::from_pkcs8(&pool().leaf_pkcs8);
    reg.flags = plan.flags;
    reg.credential_id = plan.credential_id.clone();
    reg.cose_key = plan.cose_key.clone();
    reg.extensions = plan.extensions.clone();
    if plan.extensions.is_some() {
        reg.flags |= ED;
    }
    reg.trailing = plan.trailing.clone();
    reg.tamper_signature = plan.tamper;
    let mut credential = reg.json();
    if !plan.object_edits.is_empty() {
        let object = mutate(reg.attestation_object(), &plan.object_edits);
        credential["response"]["attestationObject"] = json!(b64url(&object));
    }
    credential
}

fn register(credential: &Value, require_trusted: bool) {
    let anchors = TrustAnchors::from_pem(&pool().root_pem).unwrap();
    let origins = origins();
    let mut exp = expectations(&origins, &anchors);
    if require_trusted {
        exp.policy = AttestationPolicy::RequireTrusted;
    }
    let _ = timed("verify_registration", || {
        verify_registration(credential, &exp)
    });
}

/// A credential-shaped JSON object whose members are random.
fn credential_json() -> BoxedStrategy<Value> {
    credential_json_inner().boxed()
}

fn credential_json_inner() -> impl Strategy<Value = Value> {
    (
        json_value(),
        json_value(),
        json_value(),
        prop_oneof![json_value(), bytes(200).prop_map(|b| json!(b64url(&b)))],
        prop_oneof![
            json_value(),
            cbor_bytes().prop_map(|b| json!(b64url(&b))),
            (select(FORMATS), statement_map(), auth_data_bytes()).prop_map(|(f, s, a)| json!(
                b64url(&cbor(&Cbor::Map(vec![
                    (text("fmt"), text(f)),
                    (text("attStmt"), s),
                    (text("authData"), Cbor::Bytes(a)),
                ])))
            )),
        ],
        json_value(),
    )
        .prop_map(|(id, raw_id, kind, client_data, object, transports)| {
            json!({
                "id": id,
                "rawId": raw_id,
                "type": kind,
                "response": {
                    "clientDataJSON": client_data,
                    "attestationObject": object,
                    "transports": transports,
                },
            })
        })
}

fn client_data_bytes() -> BoxedStrategy<Vec<u8>> {
    client_data_bytes_inner().boxed()
}

fn client_data_bytes_inner() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        bytes(200),
        (
            json_value(),
            json_value(),
            json_value(),
            json_value(),
            json_value()
        )
            .prop_map(|(kind, challenge, origin, cross, top)| {
                serde_json::to_vec(&json!({
                    "type": kind, "challenge": challenge, "origin": origin,
                    "crossOrigin": cross, "topOrigin": top,
                }))
                .unwrap()
            }),
        (select(JSON_WORDS), bytes(40), select(JSON_WORDS), edits()).prop_map(
            |(kind, challenge, origin, e)| {
                let data = json!({
                    "type": kind, "challenge": b64url(&challenge), "origin": origin,
                });
                mutate(serde_json::to_vec(&data).unwrap(), &e)
            }
        ),
    ]
}

fn metadata_json() -> BoxedStrategy<Value> {
    metadata_json_inner().boxed()
}

fn metadata_json_inner() -> impl Strategy<Value = Value> {
    let statement =
        (json_value(), vec(cert_der(), 0..3), json_value()).prop_map(|(mut base, certs, keys)| {
            if !base.is_object() {
                base = json!({});
            }
            let b64 = |d: &Vec<u8>| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(d)
            };
            base["attestationRootCertificates"] = json!(certs.iter().map(b64).collect::<Vec<_>>());
            base["attestationCertificateKeyIdentifiers"] = keys;
            base
        });
    let entry = (
        prop_oneof![select(JSON_WORDS).prop_map(Value::from), json_value()],
        statement,
        json_value(),
    )
        .prop_map(|(aaguid, statement, reports)| {
            json!({"aaguid": aaguid, "metadataStatement": statement, "statusReports": reports})
        });
    (json_value(), json_value(), vec(entry, 0..4), any::<bool>()).prop_map(
        |(no, next, entries, whole)| {
            if whole {
                json!({"no": no, "nextUpdate": next, "entries": entries, "legalHeader": "x"})
            } else {
                Value::Array(entries)
            }
        },
    )
}

// ---- properties ----

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cbor_readers_never_panic(data in cbor_bytes()) {
        let _ = timed("cbor::read_one", || cbor_helpers::read_one(&data));
        if let Ok(value) = timed("cbor::read_exact", || cbor_helpers::read_exact(&data)) {
            if let Some(entries) = timed("cbor::map", || cbor_helpers::map(&value)) {
                let _ = cbor_helpers::text_key(entries, "fmt");
                let _ = cbor_helpers::int_key(entries, 3).and_then(cbor_helpers::integer);
            }
        }
    }

    #[test]
    fn auth_data_parse_never_panics(data in auth_data_bytes()) {
        if let Ok(parsed) = timed("AuthData::parse", || AuthData::parse(&data)) {
            let _ = parsed.has_extensions();
        }
    }

    #[test]
    fn cose_keys_never_panic(data in cose_bytes(), message in bytes(64), signature in bytes(140)) {
        let _ = timed("check_cose_key", || crate::fido::check_cose_key(&data));
        if let Ok(key) = timed("CoseKey::from_bytes", || CoseKey::from_bytes(&data)) {
            let _ = key.describe();
            let _ = key.p256_point();
            let _ = timed("CoseKey::verify", || key.verify(&message, &signature));
        }
    }

    #[test]
    fn client_data_never_panics(data in client_data_bytes(), credential in json_value()) {
        let origins = origins();
        let exp = Expected {
            kinds: &["webauthn.create"],
            challenge: &CHALLENGE,
            origins: &origins,
            allow_cross_origin: data.len() % 2 == 0,
            top_origins: &[],
        };
        let _ = timed("client_data::verify", || {
            client_data::verify(&data, &exp, &mut Observer::none())
        });
        let _ = timed("response_challenge", || crate::fido::response_challenge(&credential));
    }

    #[test]
    fn registration_of_arbitrary_json_never_panics(credential in credential_json(), trusted in any::<bool>()) {
        register(&credential, trusted);
    }

    #[test]
    fn registration_of_spoiled_attestations_never_panics(plan in reg_plan()) {
        let credential = build(&plan);
        register(&credential, plan.require_trusted);
    }

    #[test]
    fn trust_anchors_never_panic(certs in vec(cert_der(), 0..3), text in bytes(300)) {
        let _ = timed("TrustAnchors::from_der_list", || TrustAnchors::from_der_list(&certs));
        let mut pem = String::new();
        for der in &certs {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            pem.push_str(&format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n"));
        }
        pem.push_str(&String::from_utf8_lossy(&text));
        let _ = timed("TrustAnchors::from_pem", || TrustAnchors::from_pem(&pem));
        let _ = timed("mds::Crl::from_der", || mds::Crl::from_der(&text));
    }

    #[test]
    fn metadata_never_panics(value in metadata_json(), raw in bytes(200)) {
        let _ = timed("mds::unsigned_metadata", || mds::unsigned_metadata(&value));
        let payload = serde_json::to_vec(&value).unwrap();
        let _ = timed("mds::parse_payload", || mds::parse_payload(&payload));
        let _ = timed("mds::parse_payload raw", || mds::parse_payload(&raw));
    }
}
