//! Self-tests for the software UAF authenticator: its output is checked here against the
//! specifications with a test-local TLV reader, independent key decoders (spki / der /
//! ciborium) and independent verifiers (ring, k256), so the integration tests can trust it.

mod common;

use ciborium::Value as Cbor;
use common::pki::{self, LeafOptions};
use common::softuaf::*;
use der::{Decode, Encode, Reader};
use k256::ecdsa::signature::Verifier as _;
use ring::signature::{
    RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED,
    ED25519, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
};
use serde_json::{json, Value};

const AAID: &str = "FFFF#FC01";
const APP_ID: &str = "https://uaf.example.com/facets.json";
const FACET: &str = "https://uaf.example.com";

// ---------------------------------------------------------------- requests

fn reg_request(challenge: &str, username: &str, policy: Value) -> Value {
    json!([{
        "header": {"upv": {"major": 1, "minor": 1}, "op": "Reg", "appID": APP_ID, "serverData": "sd-reg"},
        "challenge": challenge,
        "username": username,
        "policy": policy,
    }])
}

fn accept_us() -> Value {
    json!({"accepted": [[{"aaid": [AAID]}]]})
}

fn auth_request(challenge: &str, policy: Value, transaction: Option<Value>) -> Value {
    let mut m = json!({
        "header": {"upv": {"major": 1, "minor": 1}, "op": "Auth", "appID": APP_ID, "serverData": "sd-auth"},
        "challenge": challenge,
        "policy": policy,
    });
    if let Some(tx) = transaction {
        m["transaction"] = tx;
    }
    json!([m])
}

fn dereg_request(app_id: &str, entries: Value) -> Value {
    json!([{
        "header": {"upv": {"major": 1, "minor": 1}, "op": "Dereg", "appID": app_id},
        "authenticators": entries,
    }])
}

// ---------------------------------------------------------------- a tiny TLV reader

/// One TLV item: tag, value, and the whole item (tag + length + value) as it was sent.
#[derive(Clone, Debug)]
struct Item {
    tag: u16,
    value: Vec<u8>,
    raw: Vec<u8>,
}

/// Reads a sequence of TLV items (tag UINT16 LE, length UINT16 LE, value) that must use up
/// `b` exactly.
fn read_tlv(b: &[u8]) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b.len() - i < 4 {
            return Err(format!("{} stray bytes at {i}", b.len() - i));
        }
        let tag = u16::from_le_bytes([b[i], b[i + 1]]);
        let len = u16::from_le_bytes([b[i + 2], b[i + 3]]) as usize;
        let end = i + 4 + len;
        if end > b.len() {
            return Err(format!("tag 0x{tag:04X} at {i}: length {len} overruns"));
        }
        out.push(Item {
            tag,
            value: b[i + 4..end].to_vec(),
            raw: b[i..end].to_vec(),
        });
        i = end;
    }
    Ok(out)
}

fn tags(items: &[Item]) -> Vec<u16> {
    items.iter().map(|i| i.tag).collect()
}

fn get(items: &[Item], tag: u16) -> Vec<u8> {
    items
        .iter()
        .find(|i| i.tag == tag)
        .unwrap_or_else(|| panic!("no tag 0x{tag:04X} in {:04X?}", tags(items)))
        .value
        .clone()
}

// ---------------------------------------------------------------- decoding responses

struct Decoded {
    header: Value,
    fc_params: String,
    fc: Value,
    scheme: String,
    assertion: Vec<u8>,
    /// The outer TLV's single item.
    outer: Item,
    /// Items inside the outer TLV.
    inner: Vec<Item>,
}

fn decode(resp: &Value) -> Decoded {
    let arr = resp.as_array().expect("a response array");
    assert_eq!(arr.len(), 1, "one response message");
    let m = &arr[0];
    let fc_params = m["fcParams"].as_str().expect("fcParams").to_owned();
    let fc: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &fc_params,
        )
        .expect("fcParams is base64url without padding"),
    )
    .expect("fcParams is JSON");
    let assertions = m["assertions"].as_array().expect("assertions");
    assert_eq!(assertions.len(), 1);
    let assertion = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        assertions[0]["assertion"].as_str().expect("assertion"),
    )
    .expect("assertion is base64url without padding");
    let outer = read_tlv(&assertion).expect("assertion TLV");
    assert_eq!(outer.len(), 1, "exactly one outer TLV, nothing after it");
    let inner = read_tlv(&outer[0].value).expect("inner TLV");
    Decoded {
        header: m["header"].clone(),
        fc_params,
        fc,
        scheme: assertions[0]["assertionScheme"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        outer: outer[0].clone(),
        inner,
        assertion,
    }
}

struct Reg {
    d: Decoded,
    krd: Item,
    krd_items: Vec<Item>,
    att: Item,
    att_items: Vec<Item>,
}

fn decode_reg(resp: &Value) -> Reg {
    let d = decode(resp);
    assert_eq!(d.outer.tag, TAG_UAFV1_REG_ASSERTION);
    assert_eq!(
        d.inner.len(),
        2,
        "KRD and attestation: {:04X?}",
        tags(&d.inner)
    );
    let krd = d.inner[0].clone();
    assert_eq!(krd.tag, TAG_UAFV1_KRD);
    let krd_items = read_tlv(&krd.value).expect("KRD TLV");
    let att = d.inner[1].clone();
    let att_items = read_tlv(&att.value).expect("attestation TLV");
    Reg {
        d,
        krd,
        krd_items,
        att,
        att_items,
    }
}

struct Auth {
    d: Decoded,
    signed: Item,
    signed_items: Vec<Item>,
    signature: Vec<u8>,
}

fn decode_auth(resp: &Value) -> Auth {
    let d = decode(resp);
    assert_eq!(d.outer.tag, TAG_UAFV1_AUTH_ASSERTION);
    assert_eq!(tags(&d.inner), [TAG_UAFV1_SIGNED_DATA, TAG_SIGNATURE]);
    let signed = d.inner[0].clone();
    let signed_items = read_tlv(&signed.value).expect("SIGNED_DATA TLV");
    let signature = d.inner[1].value.clone();
    Auth {
        d,
        signed,
        signed_items,
        signature,
    }
}

// ---------------------------------------------------------------- independent key decoding

#[derive(Debug)]
enum Pk {
    P256(Vec<u8>),
    K1(Vec<u8>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ed(Vec<u8>),
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_SECP256K1: &str = "1.3.132.0.10";
const OID_ED25519: &str = "1.3.101.112";

fn cbor_get(map: &Cbor, key: i64) -> Option<&Cbor> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_integer().map(i128::from) == Some(key as i128))
        .map(|(_, v)| v)
}

fn cbor_int(map: &Cbor, key: i64) -> i128 {
    cbor_get(map, key)
        .and_then(Cbor::as_integer)
        .map(i128::from)
        .unwrap_or_else(|| panic!("COSE member {key}"))
}

fn cbor_bytes(map: &Cbor, key: i64) -> Vec<u8> {
    cbor_get(map, key)
        .and_then(Cbor::as_bytes)
        .cloned()
        .unwrap_or_else(|| panic!("COSE member {key}"))
}

/// Decode TAG_PUB_KEY as the registry describes `encoding`; `sign_alg` tells the curve of a
/// raw X9.62 point (which does not say it).
fn decode_pub(encoding: u16, sign_alg: u16, b: &[u8]) -> Pk {
    match encoding {
        ALG_KEY_ECC_X962_RAW => {
            assert_eq!(b.len(), 65, "0x04 ‖ X ‖ Y");
            assert_eq!(b[0], 0x04, "uncompressed point");
            match sign_alg {
                0x0001 | 0x0002 => Pk::P256(b.to_vec()),
                0x0005 | 0x0006 => Pk::K1(b.to_vec()),
                other => panic!("an X9.62 point for alg 0x{other:04X}"),
            }
        }
        ALG_KEY_ECC_X962_DER => {
            let spki = spki::SubjectPublicKeyInfoRef::from_der(b).expect("SPKI DER");
            let point = spki.subject_public_key.raw_bytes().to_vec();
            let alg = spki.algorithm.oid.to_string();
            if alg == OID_ED25519 {
                assert!(spki.algorithm.parameters.is_none());
                return Pk::Ed(point);
            }
            assert_eq!(alg, OID_EC_PUBLIC_KEY);
            let curve = spki
                .algorithm
                .parameters_oid()
                .expect("namedCurve")
                .to_string();
            match curve.as_str() {
                OID_P256 => Pk::P256(point),
                OID_SECP256K1 => Pk::K1(point),
                other => panic!("curve {other}"),
            }
        }
        ALG_KEY_RSA_2048_RAW => {
            assert!(b.len() > 256);
            Pk::Rsa {
                n: b[..256].to_vec(),
                e: b[256..].to_vec(),
            }
        }
        ALG_KEY_RSA_2048_DER => {
            let mut r = der::SliceReader::new(b).expect("DER");
            let (n, e) = r
                .sequence(|r| {
                    let n = der::asn1::UintRef::decode(r)?;
                    let e = der::asn1::UintRef::decode(r)?;
                    Ok((n.as_bytes().to_vec(), e.as_bytes().to_vec()))
                })
                .expect("SEQUENCE { n INTEGER, e INTEGER }");
            assert!(r.is_finished(), "nothing after the SEQUENCE");
            Pk::Rsa { n, e }
        }
        ALG_KEY_COSE => {
            let key: Cbor = ciborium::from_reader(b).expect("COSE_Key CBOR");
            match cbor_int(&key, 1) {
                2 => {
                    let (x, y) = (cbor_bytes(&key, -2), cbor_bytes(&key, -3));
                    assert_eq!((x.len(), y.len()), (32, 32));
                    let point = [&[4u8][..], &x, &y].concat();
                    match (cbor_int(&key, 3), cbor_int(&key, -1)) {
                        (-7, 1) => Pk::P256(point),
                        (-47, 8) => Pk::K1(point),
                        other => panic!("EC2 alg/crv {other:?}"),
                    }
                }
                3 => {
                    let alg = cbor_int(&key, 3);
                    match sign_alg {
                        0x0003 | 0x0004 => assert_eq!(alg, -37, "PS256"),
                        _ => assert_eq!(alg, -257, "RS256"),
                    }
                    Pk::Rsa {
                        n: cbor_bytes(&key, -1),
                        e: cbor_bytes(&key, -2),
                    }
                }
                1 => {
                    assert_eq!((cbor_int(&key, 3), cbor_int(&key, -1)), (-8, 6));
                    Pk::Ed(cbor_bytes(&key, -2))
                }
                other => panic!("kty {other}"),
            }
        }
        other => panic!("key encoding 0x{other:04X}"),
    }
}

fn unwrap_octet_string(sig: &[u8]) -> Vec<u8> {
    der::asn1::OctetStringRef::from_der(sig)
        .expect("a DER OCTET STRING")
        .as_bytes()
        .to_vec()
}

/// Verify `sig` over `msg` as the registry defines `sign_alg`.
fn verify(sign_alg: u16, pk: &Pk, msg: &[u8], sig: &[u8]) -> bool {
    match (sign_alg, pk) {
        (0x0001, Pk::P256(p)) => {
            assert_eq!(sig.len(), 64, "raw r ‖ s");
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p)
                .verify(msg, sig)
                .is_ok()
        }
        (0x0002, Pk::P256(p)) => {
            assert_eq!(sig[0], 0x30, "DER SEQUENCE");
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, p)
                .verify(msg, sig)
                .is_ok()
        }
        (0x0005 | 0x0006, Pk::K1(p)) => {
            let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(p).expect("secp256k1 point");
            let sig = if sign_alg == 0x0005 {
                assert_eq!(sig.len(), 64, "raw r ‖ s");
                k256::ecdsa::Signature::from_slice(sig)
            } else {
                k256::ecdsa::Signature::from_der(sig)
            };
            sig.is_ok_and(|s| vk.verify(msg, &s).is_ok())
        }
        (0x0003 | 0x0004 | 0x0008 | 0x0009, Pk::Rsa { n, e }) => {
            let raw = if matches!(sign_alg, 0x0004 | 0x0009) {
                unwrap_octet_string(sig)
            } else {
                sig.to_vec()
            };
            assert_eq!(raw.len(), 256, "S is 256 bytes");
            let alg = if matches!(sign_alg, 0x0003 | 0x0004) {
                &RSA_PSS_2048_8192_SHA256
            } else {
                &RSA_PKCS1_2048_8192_SHA256
            };
            RsaPublicKeyComponents { n, e }
                .verify(alg, msg, &raw)
                .is_ok()
        }
        (0x0012, Pk::Ed(p)) => {
            assert_eq!(sig.len(), 64);
            UnparsedPublicKey::new(&ED25519, p).verify(msg, sig).is_ok()
        }
        other => panic!("no verifier for {other:?}"),
    }
}

fn assertion_info(v: &[u8]) -> (u16, u8, u16, Option<u16>) {
    assert!(
        v.len() == 5 || v.len() == 7,
        "ASSERTION_INFO is 5 or 7 bytes"
    );
    (
        u16::from_le_bytes([v[0], v[1]]),
        v[2],
        u16::from_le_bytes([v[3], v[4]]),
        (v.len() == 7).then(|| u16::from_le_bytes([v[5], v[6]])),
    )
}

fn sha256(b: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

fn b64(b: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b)
}

// ---------------------------------------------------------------- tests

#[test]
fn registration_with_surrogate_attestation_follows_the_spec() {
    let mut a = SoftUaf::new(AAID);
    let resp = a
        .register(
            &reg_request("Y2hhbGxlbmdlLTE", "alice", accept_us()),
            Some(FACET),
        )
        .expect("register");
    let r = decode_reg(&resp);

    // Header copied, fcParams = base64url(FinalChallengeParams).
    assert_eq!(
        r.d.header,
        json!({"upv": {"major": 1, "minor": 1}, "op": "Reg", "appID": APP_ID, "serverData": "sd-reg"})
    );
    assert_eq!(
        r.d.fc,
        json!({"appID": APP_ID, "challenge": "Y2hhbGxlbmdlLTE", "facetID": FACET, "channelBinding": {}})
    );
    assert_eq!(r.d.scheme, "UAFV1TLV");

    // Little-endian tag and length: 0x3E01 is sent as 01 3E.
    assert_eq!(&r.d.assertion[..2], &[0x01, 0x3E]);
    let outer_len = u16::from_le_bytes([r.d.assertion[2], r.d.assertion[3]]) as usize;
    assert_eq!(outer_len, r.d.assertion.len() - 4);

    assert_eq!(r.att.tag, TAG_ATTESTATION_BASIC_SURROGATE);
    assert_eq!(tags(&r.att_items), [TAG_SIGNATURE]);
    assert_eq!(
        tags(&r.krd_items),
        [
            TAG_AAID,
            TAG_ASSERTION_INFO,
            TAG_FINAL_CHALLENGE_HASH,
            TAG_KEYID,
            TAG_COUNTERS,
            TAG_PUB_KEY
        ]
    );
    assert_eq!(get(&r.krd_items, TAG_AAID), AAID.as_bytes());
    assert_eq!(
        get(&r.krd_items, TAG_ASSERTION_INFO),
        [0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01],
        "version 1, mode 1, ALG_SIGN 0x0001, ALG_KEY 0x0100, all LE"
    );
    assert_eq!(
        get(&r.krd_items, TAG_FINAL_CHALLENGE_HASH),
        sha256(r.d.fc_params.as_bytes()),
        "FCH = SHA-256 of the fcParams string"
    );
    let key_id = get(&r.krd_items, TAG_KEYID);
    assert_eq!(key_id.len(), 32);
    assert_eq!(a.key_ids(), [b64(&key_id)]);
    assert_eq!(
        get(&r.krd_items, TAG_COUNTERS),
        [0, 0, 0, 0, 1, 0, 0, 0],
        "signCounter 0, regCounter 1"
    );
    let pub_key = get(&r.krd_items, TAG_PUB_KEY);
    let stored = a.key(&b64(&key_id)).expect("stored");
    assert_eq!(stored.public_key(), pub_key);
    assert_eq!(stored.key.public_raw(), pub_key.as_slice());
    assert_eq!(
        (stored.app_id.as_str(), stored.username.as_str()),
        (APP_ID, "alice")
    );
    assert_eq!(a.key_for(APP_ID, "alice").unwrap().key_id, key_id);

    // The surrogate signature is by the new key over the whole KRD TLV.
    let pk = decode_pub(ALG_KEY_ECC_X962_RAW, 0x0001, &pub_key);
    let sig = get(&r.att_items, TAG_SIGNATURE);
    assert!(verify(0x0001, &pk, &r.krd.raw, &sig));
    assert!(
        !verify(0x0001, &pk, &r.krd.value, &sig),
        "tag and length are signed"
    );

    // A second registration moves the regCounter.
    let resp = a
        .register(
            &reg_request("Y2hhbGxlbmdlLTI", "bob", accept_us()),
            Some(FACET),
        )
        .unwrap();
    let r2 = decode_reg(&resp);
    assert_eq!(get(&r2.krd_items, TAG_COUNTERS), [0, 0, 0, 0, 2, 0, 0, 0]);
    assert_ne!(get(&r2.krd_items, TAG_KEYID), key_id);
    assert_eq!(a.keys().len(), 2);
}

#[test]
fn every_algorithm_and_key_encoding_verifies() {
    let combos: &[(u16, u16)] = &[
        (0x0001, 0x0100),
        (0x0001, 0x0101),
        (0x0001, 0x0104),
        (0x0002, 0x0100),
        (0x0002, 0x0101),
        (0x0002, 0x0104),
        (0x0005, 0x0100),
        (0x0005, 0x0101),
        (0x0005, 0x0104),
        (0x0006, 0x0100),
        (0x0006, 0x0101),
        (0x0006, 0x0104),
        (0x0003, 0x0102),
        (0x0003, 0x0103),
        (0x0003, 0x0104),
        (0x0004, 0x0102),
        (0x0004, 0x0103),
        (0x0004, 0x0104),
        (0x0008, 0x0102),
        (0x0008, 0x0103),
        (0x0008, 0x0104),
        (0x0009, 0x0102),
        (0x0009, 0x0103),
        (0x0009, 0x0104),
        (0x0012, 0x0104),
        (0x0012, 0x0101),
    ];
    for &(alg, enc) in combos {
        let ctx = format!("alg 0x{alg:04X} enc 0x{enc:04X}");
        let mut a = SoftUaf::with_alg(AAID, alg, enc);
        let resp = a
            .register(&reg_request("cmVnLWNoYWxsZW5nZQ", "u", accept_us()), None)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let r = decode_reg(&resp);
        let (_, mode, info_alg, info_enc) = assertion_info(&get(&r.krd_items, TAG_ASSERTION_INFO));
        assert_eq!((mode, info_alg, info_enc), (1, alg, Some(enc)), "{ctx}");
        let pk = decode_pub(enc, alg, &get(&r.krd_items, TAG_PUB_KEY));
        let att_sig = get(&r.att_items, TAG_SIGNATURE);
        assert!(
            verify(alg, &pk, &r.krd.raw, &att_sig),
            "{ctx}: surrogate signature"
        );

        // RSA raw key: n is 256 bytes, e the minimal 01 00 01.
        if enc == ALG_KEY_RSA_2048_RAW {
            let Pk::Rsa { n, e } = &pk else { panic!() };
            assert_eq!((n.len(), e.as_slice()), (256, &[1u8, 0, 1][..]), "{ctx}");
        }
        if enc == ALG_KEY_RSA_2048_DER {
            assert!(
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, get(&r.krd_items, TAG_PUB_KEY))
                    .verify(b"x", &[0u8; 256])
                    .is_err(),
                "ring reads the RSAPublicKey (and refuses a zero signature)"
            );
        }

        for round in 1..=2u32 {
            let resp = a
                .authenticate(&auth_request("YXV0aC1jaGFsbGVuZ2U", json!({}), None), None)
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let au = decode_auth(&resp);
            let (_, mode, info_alg, info_enc) =
                assertion_info(&get(&au.signed_items, TAG_ASSERTION_INFO));
            assert_eq!((mode, info_alg, info_enc), (1, alg, None), "{ctx}");
            assert_eq!(
                get(&au.signed_items, TAG_COUNTERS),
                round.to_le_bytes(),
                "{ctx}"
            );
            assert!(
                verify(alg, &pk, &au.signed.raw, &au.signature),
                "{ctx}: auth signature"
            );
            let mut bad = au.signed.raw.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert!(
                !verify(alg, &pk, &bad, &au.signature),
                "{ctx}: a changed byte fails"
            );
        }
    }
}

#[test]
fn mismatched_algorithm_and_encoding_is_refused() {
    for (alg, enc) in [
        (0x0012, 0x0100),
        (0x0003, 0x0100),
        (0x0001, 0x0102),
        (0x0007, 0x0100),
    ] {
        let mut a = SoftUaf::with_alg(AAID, alg, enc);
        assert!(
            a.register(&reg_request("Y2g", "u", json!({})), None)
                .is_err(),
            "0x{alg:04X}/0x{enc:04X}"
        );
        assert!(a.keys().is_empty());
    }
}

/// Checks `cert` is signed by `ca` (ecdsa-with-SHA256) and returns its SPKI point.
fn leaf_point_checked_against(cert_der: &[u8], ca: &pki::Ca) -> Vec<u8> {
    let cert = x509_cert::Certificate::from_der(cert_der).expect("leaf certificate");
    let ca_cert = x509_cert::Certificate::from_der(&ca.cert_der).expect("CA certificate");
    assert_eq!(cert.tbs_certificate.issuer, ca_cert.tbs_certificate.subject);
    let ca_point = ca_cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let tbs = cert.tbs_certificate.to_der().unwrap();
    assert!(UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, ca_point)
        .verify(&tbs, cert.signature.raw_bytes())
        .is_ok());
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

#[test]
fn full_basic_attestation_is_signed_by_the_leaf_under_the_test_ca() {
    let (ca, attestation) = test_attestation("UAF test CA");
    let UafAttestation::BasicFull { chain } = attestation.clone() else {
        panic!()
    };
    for full_alg in [0x0002, 0x0001] {
        let mut a = SoftUaf::with_alg(AAID, 0x0005, 0x0100);
        a.attestation = attestation.clone();
        a.full_attestation_alg = full_alg;
        assert_eq!(a.attestation_type(), TAG_ATTESTATION_BASIC_FULL);
        let resp = a
            .register(&reg_request("Y2g", "alice", accept_us()), None)
            .unwrap();
        let r = decode_reg(&resp);
        assert_eq!(r.att.tag, TAG_ATTESTATION_BASIC_FULL);
        assert_eq!(tags(&r.att_items), [TAG_SIGNATURE, TAG_ATTESTATION_CERT]);
        assert_eq!(get(&r.att_items, TAG_ATTESTATION_CERT), chain.x5c[0]);
        // The KRD names the attestation signature's algorithm and the new key's encoding.
        let (_, _, info_alg, info_enc) = assertion_info(&get(&r.krd_items, TAG_ASSERTION_INFO));
        assert_eq!((info_alg, info_enc), (full_alg, Some(0x0100)));
        let leaf = leaf_point_checked_against(&chain.x5c[0], &ca);
        let sig = get(&r.att_items, TAG_SIGNATURE);
        assert!(verify(full_alg, &Pk::P256(leaf), &r.krd.raw, &sig));
        // The new key (secp256k1) signs authentications as 0x0005.
        let au = decode_auth(
            &a.authenticate(&auth_request("Y2gy", json!({}), None), None)
                .unwrap(),
        );
        let pk = decode_pub(0x0100, 0x0005, &get(&r.krd_items, TAG_PUB_KEY));
        assert!(verify(0x0005, &pk, &au.signed.raw, &au.signature));
    }

    // With an intermediate: one TAG_ATTESTATION_CERT per certificate, leaf first.
    let root = pki::root_ca("UAF root");
    let mid = pki::intermediate_ca(&root, "UAF intermediate", pki::Validity::current());
    let chain = pki::attestation_chain(&mid, &[&mid], LeafOptions::default());
    let mut a = SoftUaf::new(AAID);
    a.attestation = UafAttestation::BasicFull {
        chain: chain.clone(),
    };
    let r = decode_reg(
        &a.register(&reg_request("Y2g", "alice", accept_us()), None)
            .unwrap(),
    );
    assert_eq!(
        tags(&r.att_items),
        [TAG_SIGNATURE, TAG_ATTESTATION_CERT, TAG_ATTESTATION_CERT]
    );
    assert_eq!(r.att_items[1].value, chain.x5c[0]);
    assert_eq!(r.att_items[2].value, mid.cert_der);
    let leaf = leaf_point_checked_against(&chain.x5c[0], &mid);
    assert!(verify(
        0x0002,
        &Pk::P256(leaf),
        &r.krd.raw,
        &get(&r.att_items, TAG_SIGNATURE)
    ));
}

#[test]
fn authentication_follows_the_spec() {
    let mut a = SoftUaf::new(AAID);
    a.register(&reg_request("Y2g", "alice", accept_us()), Some(FACET))
        .unwrap();
    let pk = Pk::P256(a.keys()[0].key.public_raw().to_vec());
    let resp = a
        .authenticate(&auth_request("YXV0aC0x", json!({}), None), Some(FACET))
        .unwrap();
    let au = decode_auth(&resp);
    assert_eq!(
        au.d.header,
        json!({"upv": {"major": 1, "minor": 1}, "op": "Auth", "appID": APP_ID, "serverData": "sd-auth"})
    );
    assert_eq!(
        au.d.fc,
        json!({"appID": APP_ID, "challenge": "YXV0aC0x", "facetID": FACET, "channelBinding": {}})
    );
    assert_eq!(&au.d.assertion[..2], &[0x02, 0x3E]);
    assert_eq!(
        tags(&au.signed_items),
        [
            TAG_AAID,
            TAG_ASSERTION_INFO,
            TAG_AUTHENTICATOR_NONCE,
            TAG_FINAL_CHALLENGE_HASH,
            TAG_TRANSACTION_CONTENT_HASH,
            TAG_KEYID,
            TAG_COUNTERS
        ]
    );
    assert_eq!(get(&au.signed_items, TAG_AAID), AAID.as_bytes());
    assert_eq!(get(&au.signed_items, TAG_ASSERTION_INFO), [1, 0, 1, 1, 0]);
    assert!(get(&au.signed_items, TAG_AUTHENTICATOR_NONCE).len() >= 8);
    assert_eq!(
        get(&au.signed_items, TAG_FINAL_CHALLENGE_HASH),
        sha256(au.d.fc_params.as_bytes())
    );
    assert!(get(&au.signed_items, TAG_TRANSACTION_CONTENT_HASH).is_empty());
    assert_eq!(get(&au.signed_items, TAG_KEYID), a.keys()[0].key_id);
    assert_eq!(get(&au.signed_items, TAG_COUNTERS), [1, 0, 0, 0]);
    assert!(verify(0x0001, &pk, &au.signed.raw, &au.signature));
    assert_eq!(a.last_transaction_text(), None);

    // Nonces differ; the counter moves.
    let au2 = decode_auth(
        &a.authenticate(&auth_request("YXV0aC0y", json!({}), None), Some(FACET))
            .unwrap(),
    );
    assert_ne!(
        get(&au2.signed_items, TAG_AUTHENTICATOR_NONCE),
        get(&au.signed_items, TAG_AUTHENTICATOR_NONCE)
    );
    assert_eq!(get(&au2.signed_items, TAG_COUNTERS), [2, 0, 0, 0]);
    assert_eq!(a.sign_counter, 2);
}

#[test]
fn transaction_confirmation_hashes_the_displayed_content() {
    let mut a = SoftUaf::new(AAID);
    a.register(&reg_request("Y2g", "alice", accept_us()), None)
        .unwrap();
    let text = "Pay 10.00 EUR to Bob";
    let png = b64(b"\x89PNG not really");
    let tx = json!([
        {"contentType": "image/png", "content": png, "tcDisplayPNGCharacteristics": []},
        {"contentType": "text/plain", "content": b64(text.as_bytes())},
    ]);
    let au = decode_auth(
        &a.authenticate(&auth_request("dHg", json!({}), Some(tx)), None)
            .unwrap(),
    );
    let (_, mode, _, _) = assertion_info(&get(&au.signed_items, TAG_ASSERTION_INFO));
    assert_eq!(mode, 0x02);
    assert_eq!(
        get(&au.signed_items, TAG_TRANSACTION_CONTENT_HASH),
        sha256(text.as_bytes())
    );
    assert_eq!(a.last_transaction_text(), Some(text));
    let pk = Pk::P256(a.keys()[0].key.public_raw().to_vec());
    assert!(verify(0x0001, &pk, &au.signed.raw, &au.signature));

    // A later plain authentication clears what was displayed.
    a.authenticate(&auth_request("dHg", json!({}), None), None)
        .unwrap();
    assert_eq!(a.last_transaction_text(), None);
}

#[test]
fn policy_is_respected_unless_told_otherwise() {
    let mut a = SoftUaf::new(AAID);
    let other = json!({"accepted": [[{"aaid": ["0000#0000"]}]]});
    let err = a
        .register(&reg_request("Y2g", "alice", other.clone()), None)
        .unwrap_err();
    assert!(err.contains("does not accept"), "{err}");
    let t = UafTamper {
        ignore_policy: true,
        ..Default::default()
    };
    a.register_with(&reg_request("Y2g", "alice", other), None, &t)
        .expect("registers when told to misbehave");

    // Criteria on algorithms, schemes, attestation types.
    let fits = json!({"accepted": [[{"aaid": [AAID], "authenticationAlgorithms": [1], "assertionSchemes": ["UAFV1TLV"], "attestationTypes": [15880]}]]});
    a.register(&reg_request("Y2g", "bob", fits), None).unwrap();
    let wrong_alg = json!({"accepted": [[{"authenticationAlgorithms": [2]}]]});
    assert!(a
        .register(&reg_request("Y2g", "bob", wrong_alg), None)
        .is_err());
    let wrong_att = json!({"accepted": [[{"attestationTypes": [15879]}]]});
    assert!(a
        .register(&reg_request("Y2g", "bob", wrong_att), None)
        .is_err());
    let second_set = json!({"accepted": [[{"aaid": ["0000#0000"]}], [{"vendorID": ["FFFF"]}]]});
    a.register(&reg_request("Y2g", "carol", second_set), None)
        .unwrap();

    // Disallowed: our already registered key for this appID.
    let ids = a.key_ids();
    let dis = json!({"accepted": [[{"aaid": [AAID]}]], "disallowed": [{"aaid": [AAID], "keyIDs": [ids[0]]}]});
    let err = a
        .register(&reg_request("Y2g", "dave", dis), None)
        .unwrap_err();
    assert!(err.contains("disallows"), "{err}");

    // Authentication picks the listed key, newest first without a list.
    let pick = |a: &mut SoftUaf, policy: Value| -> Result<Vec<u8>, String> {
        let resp = a.authenticate(&auth_request("YQ", policy, None), None)?;
        Ok(get(&decode_auth(&resp).signed_items, TAG_KEYID))
    };
    let key_ids: Vec<Vec<u8>> = a.keys().iter().map(|k| k.key_id.clone()).collect();
    assert_eq!(pick(&mut a, json!({})).unwrap(), key_ids[2]);
    for (i, id) in key_ids.iter().enumerate() {
        let p = json!({"accepted": [[{"aaid": [AAID], "keyIDs": [b64(id)]}]]});
        assert_eq!(&pick(&mut a, p).unwrap(), id, "key {i}");
    }
    let none = json!({"accepted": [[{"aaid": [AAID], "keyIDs": [b64(&[7u8; 32])]}]]});
    assert!(pick(&mut a, none.clone()).is_err());
    let t = UafTamper {
        ignore_policy: true,
        ..Default::default()
    };
    let resp = a
        .authenticate_with(&auth_request("YQ", none, None), None, &t)
        .unwrap();
    assert_eq!(get(&decode_auth(&resp).signed_items, TAG_KEYID), key_ids[2]);
    // Disallowing the newest falls back to the next.
    let dis = json!({"disallowed": [{"keyIDs": [b64(&key_ids[2])]}]});
    assert_eq!(pick(&mut a, dis).unwrap(), key_ids[1]);
    // Keys of another appID are not used.
    let mut req = auth_request("YQ", json!({}), None);
    req[0]["header"]["appID"] = json!("https://other.example.com");
    assert!(a.authenticate(&req, None).is_err());
}

#[test]
fn deregistration_forgets_one_an_aaid_or_all() {
    let mut a = SoftUaf::new(AAID);
    for user in ["u1", "u2", "u3"] {
        a.register(&reg_request("Y2g", user, json!({})), None)
            .unwrap();
    }
    let mut other_app = reg_request("Y2g", "u1", json!({}));
    other_app[0]["header"]["appID"] = json!("https://other.example.com");
    a.register(&other_app, None).unwrap();
    let ids = a.key_ids();
    assert_eq!(ids.len(), 4);

    // Another AAID: nothing happens.
    let n = a
        .deregister(&dereg_request(
            APP_ID,
            json!([{"aaid": "0000#0000", "keyID": ids[0]}]),
        ))
        .unwrap();
    assert_eq!(n, 0);
    // One key.
    let n = a
        .deregister(&dereg_request(
            APP_ID,
            json!([{"aaid": AAID, "keyID": ids[0]}]),
        ))
        .unwrap();
    assert_eq!((n, a.key_ids()), (1, ids[1..].to_vec()));
    // All of our AAID for the appID.
    let n = a
        .deregister(&dereg_request(APP_ID, json!([{"aaid": AAID, "keyID": ""}])))
        .unwrap();
    assert_eq!((n, a.key_ids()), (2, vec![ids[3].clone()]));
    // Everything for the other appID.
    let n = a
        .deregister(&dereg_request(
            "https://other.example.com",
            json!([{"aaid": "", "keyID": ""}]),
        ))
        .unwrap();
    assert_eq!(n, 1);
    assert!(a.keys().is_empty());
    assert!(a.deregister(&reg_request("Y2g", "u", json!({}))).is_err());
}

#[test]
fn request_forms_and_header_rules() {
    let mut a = SoftUaf::new(AAID);
    let req = reg_request("Y2g", "alice", json!({}));
    // As a string, and inside ReturnUAFRequest.
    a.register(&json!(req.to_string()), None).unwrap();
    a.register(&json!({"uafRequest": req.to_string()}), None)
        .unwrap();
    // upv: 1.1 preferred over 1.0; 1.0 alone is answered.
    let mut m10 = req[0].clone();
    m10["header"]["upv"] = json!({"major": 1, "minor": 0});
    m10["challenge"] = json!("djEw");
    let both = json!([m10.clone(), req[0].clone()]);
    let r = decode_reg(&a.register(&both, None).unwrap());
    assert_eq!(r.d.header["upv"], json!({"major": 1, "minor": 1}));
    assert_eq!(r.d.fc["challenge"], "Y2g");
    let r = decode_reg(&a.register(&json!([m10]), None).unwrap());
    assert_eq!(r.d.header["upv"], json!({"major": 1, "minor": 0}));
    let mut m20 = req[0].clone();
    m20["header"]["upv"] = json!({"major": 2, "minor": 0});
    assert!(a.register(&json!([m20]), None).is_err());
    // Wrong op.
    assert!(a
        .authenticate(&reg_request("Y2g", "alice", json!({})), None)
        .is_err());
    // An empty appID: the facet ID stands in; facet_id defaults to the configured one, then
    // the appID.
    let mut empty = req.clone();
    empty[0]["header"]["appID"] = json!("");
    let r = decode_reg(&a.register(&empty, Some(FACET)).unwrap());
    assert_eq!(
        (r.d.fc["appID"].as_str(), r.d.fc["facetID"].as_str()),
        (Some(FACET), Some(FACET))
    );
    let r = decode_reg(&a.register(&req, None).unwrap());
    assert_eq!(r.d.fc["facetID"], APP_ID);
    a.facet_id = Some("android:apk-key-hash:abc".into());
    let r = decode_reg(&a.register(&req, None).unwrap());
    assert_eq!(r.d.fc["facetID"], "android:apk-key-hash:abc");
    // No serverData in the request: none in the response.
    let mut no_sd = req.clone();
    no_sd[0]["header"]
        .as_object_mut()
        .unwrap()
        .remove("serverData");
    let r = decode_reg(&a.register(&no_sd, None).unwrap());
    assert!(r.d.header.get("serverData").is_none());
}

#[test]
fn tamper_knobs_do_what_they_say() {
    let reg = reg_request("Y2g", "alice", accept_us());
    let auth = auth_request("YXV0aA", json!({}), None);
    let tx_text = "Pay 1 EUR";
    let tx = json!([{"contentType": "text/plain", "content": b64(tx_text.as_bytes())}]);
    let auth_tx = auth_request("YXV0aA", json!({}), Some(tx));
    let fresh = || {
        let mut a = SoftUaf::new(AAID);
        a.register(&reg, None).unwrap();
        a
    };
    let reg_with = |t: UafTamper| {
        let mut a = SoftUaf::new(AAID);
        let resp = a.register_with(&reg, None, &t).unwrap();
        (a, resp)
    };
    let auth_with = |req: &Value, t: UafTamper| {
        let mut a = fresh();
        let resp = a.authenticate_with(req, None, &t).unwrap();
        (a, resp)
    };

    // fcParams members.
    let (_, resp) = reg_with(UafTamper {
        fc_app_id: Some("https://evil.example".into()),
        fc_challenge: Some("b3RoZXI".into()),
        fc_facet_id: Some("https://evil.example".into()),
        ..Default::default()
    });
    let r = decode_reg(&resp);
    assert_eq!(
        r.d.fc,
        json!({"appID": "https://evil.example", "challenge": "b3RoZXI", "facetID": "https://evil.example", "channelBinding": {}})
    );
    assert_eq!(
        get(&r.krd_items, TAG_FINAL_CHALLENGE_HASH),
        sha256(r.d.fc_params.as_bytes()),
        "the FCH follows the tampered fcParams"
    );
    let (_, resp) = reg_with(UafTamper {
        fc_params_raw: Some("bm90IGpzb24".into()),
        ..Default::default()
    });
    assert_eq!(resp[0]["fcParams"], "bm90IGpzb24");

    // Wrong FCH.
    let (_, resp) = auth_with(
        &auth,
        UafTamper {
            final_challenge_hash: Some(vec![0; 32]),
            ..Default::default()
        },
    );
    assert_eq!(
        get(&decode_auth(&resp).signed_items, TAG_FINAL_CHALLENGE_HASH),
        [0; 32]
    );

    // Flipped signatures.
    let (a, resp) = auth_with(
        &auth,
        UafTamper {
            flip_signature_byte: true,
            ..Default::default()
        },
    );
    let au = decode_auth(&resp);
    let pk = Pk::P256(a.keys()[0].key.public_raw().to_vec());
    assert!(!verify(0x0001, &pk, &au.signed.raw, &au.signature));
    let (a, resp) = reg_with(UafTamper {
        flip_attestation_signature: true,
        ..Default::default()
    });
    let r = decode_reg(&resp);
    let pk = Pk::P256(a.keys()[0].key.public_raw().to_vec());
    assert!(!verify(
        0x0001,
        &pk,
        &r.krd.raw,
        &get(&r.att_items, TAG_SIGNATURE)
    ));
    let (ca, att) = test_attestation("flip CA");
    let mut a = SoftUaf::new(AAID);
    a.attestation = att.clone();
    let t = UafTamper {
        flip_attestation_signature: true,
        ..Default::default()
    };
    let r = decode_reg(&a.register_with(&reg, None, &t).unwrap());
    let UafAttestation::BasicFull { chain } = att else {
        panic!()
    };
    let leaf = leaf_point_checked_against(&chain.x5c[0], &ca);
    assert!(!verify(
        0x0002,
        &Pk::P256(leaf),
        &r.krd.raw,
        &get(&r.att_items, TAG_SIGNATURE)
    ));

    // Counter overrides leave the own counters alone.
    let (a, resp) = auth_with(
        &auth,
        UafTamper {
            sign_counter: Some(0xdead_beef),
            ..Default::default()
        },
    );
    assert_eq!(
        get(&decode_auth(&resp).signed_items, TAG_COUNTERS),
        0xdead_beefu32.to_le_bytes()
    );
    assert_eq!(a.sign_counter, 0);
    let (a, resp) = reg_with(UafTamper {
        sign_counter: Some(5),
        reg_counter: Some(9),
        ..Default::default()
    });
    assert_eq!(
        get(&decode_reg(&resp).krd_items, TAG_COUNTERS),
        [5, 0, 0, 0, 9, 0, 0, 0]
    );
    assert_eq!(a.reg_counter, 0);

    // No nonce; mode 1 with a transaction; another displayed text; a raw hash.
    let (_, resp) = auth_with(
        &auth,
        UafTamper {
            omit_nonce: true,
            ..Default::default()
        },
    );
    assert!(!tags(&decode_auth(&resp).signed_items).contains(&TAG_AUTHENTICATOR_NONCE));
    let (_, resp) = auth_with(
        &auth_tx,
        UafTamper {
            mode: Some(0x01),
            ..Default::default()
        },
    );
    let au = decode_auth(&resp);
    assert_eq!(
        assertion_info(&get(&au.signed_items, TAG_ASSERTION_INFO)).1,
        0x01
    );
    assert_eq!(
        get(&au.signed_items, TAG_TRANSACTION_CONTENT_HASH),
        sha256(tx_text.as_bytes())
    );
    let (a, resp) = auth_with(
        &auth_tx,
        UafTamper {
            displayed_transaction: Some("Pay 1000 EUR".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        get(
            &decode_auth(&resp).signed_items,
            TAG_TRANSACTION_CONTENT_HASH
        ),
        sha256(b"Pay 1000 EUR")
    );
    assert_eq!(a.last_transaction_text(), Some("Pay 1000 EUR"));
    let (_, resp) = auth_with(
        &auth_tx,
        UafTamper {
            transaction_content_hash: Some(vec![1, 2, 3]),
            ..Default::default()
        },
    );
    assert_eq!(
        get(
            &decode_auth(&resp).signed_items,
            TAG_TRANSACTION_CONTENT_HASH
        ),
        [1, 2, 3]
    );

    // Unknown, duplicated and omitted tags; trailing bytes; another AAID.
    let (_, resp) = reg_with(UafTamper {
        unknown_tag: true,
        ..Default::default()
    });
    let r = decode_reg(&resp);
    assert_eq!(r.krd_items.last().unwrap().tag, TAG_UNKNOWN_FOR_TESTS);
    let pk = decode_pub(0x0100, 0x0001, &get(&r.krd_items, TAG_PUB_KEY));
    assert!(
        verify(0x0001, &pk, &r.krd.raw, &get(&r.att_items, TAG_SIGNATURE)),
        "the unknown tag is signed"
    );
    for critical in [true, false] {
        let (_, resp) = auth_with(
            &auth,
            UafTamper {
                extension: Some(("ext-id".into(), vec![5, 6], critical)),
                ..Default::default()
            },
        );
        let au = decode_auth(&resp);
        let ext = au.signed_items.last().unwrap();
        let tag = if critical { 0x3E11 } else { 0x3E12 };
        assert_eq!(ext.tag, tag);
        let inner = read_tlv(&ext.value).unwrap();
        assert_eq!(tags(&inner), [0x2E13, 0x2E14]);
        assert_eq!(
            (inner[0].value.as_slice(), inner[1].value.as_slice()),
            (&b"ext-id"[..], &[5u8, 6][..])
        );
    }
    let (_, resp) = reg_with(UafTamper {
        duplicate_tag: Some(TAG_KEYID),
        ..Default::default()
    });
    let r = decode_reg(&resp);
    assert_eq!(
        tags(&r.krd_items),
        [
            TAG_AAID,
            TAG_ASSERTION_INFO,
            TAG_FINAL_CHALLENGE_HASH,
            TAG_KEYID,
            TAG_KEYID,
            TAG_COUNTERS,
            TAG_PUB_KEY
        ]
    );
    let (_, resp) = auth_with(
        &auth,
        UafTamper {
            omit_tag: Some(TAG_KEYID),
            ..Default::default()
        },
    );
    assert!(!tags(&decode_auth(&resp).signed_items).contains(&TAG_KEYID));
    let (_, resp) = auth_with(
        &auth,
        UafTamper {
            trailing_bytes: true,
            ..Default::default()
        },
    );
    let raw = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        resp[0]["assertions"][0]["assertion"].as_str().unwrap(),
    )
    .unwrap();
    let outer_len = u16::from_le_bytes([raw[2], raw[3]]) as usize;
    assert!(raw.len() > 4 + outer_len, "bytes after the outer TLV");
    assert!(read_tlv(&raw).is_err() || read_tlv(&raw).unwrap().len() > 1);
    let (_, resp) = reg_with(UafTamper {
        aaid: Some("0000#0000".into()),
        ..Default::default()
    });
    assert_eq!(get(&decode_reg(&resp).krd_items, TAG_AAID), b"0000#0000");

    // Header and scheme; info values; key id; forget.
    let (_, resp) = reg_with(UafTamper {
        op: Some("Auth".into()),
        upv: Some((1, 0)),
        server_data: Some(None),
        assertion_scheme: Some("UAFV2TLV".into()),
        info_sign_alg: Some(0x0002),
        info_key_encoding: Some(0x0101),
        key_id: Some(vec![9; 32]),
        forget: true,
        ..Default::default()
    });
    let r = decode_reg(&resp);
    assert_eq!(
        r.d.header,
        json!({"upv": {"major": 1, "minor": 0}, "op": "Auth", "appID": APP_ID})
    );
    assert_eq!(r.d.scheme, "UAFV2TLV");
    assert_eq!(
        assertion_info(&get(&r.krd_items, TAG_ASSERTION_INFO)),
        (1, 1, 0x0002, Some(0x0101))
    );
    assert_eq!(get(&r.krd_items, TAG_KEYID), [9; 32]);
    let (_, resp) = auth_with(
        &auth,
        UafTamper {
            key_id: Some(vec![8; 32]),
            ..Default::default()
        },
    );
    assert_eq!(get(&decode_auth(&resp).signed_items, TAG_KEYID), [8; 32]);
    let mut a = SoftUaf::new(AAID);
    let t = UafTamper {
        forget: true,
        ..Default::default()
    };
    a.register_with(&reg, None, &t).unwrap();
    assert!(a.keys().is_empty());
}
