//! Self-tests for the software authenticator: its output is checked here with an
//! independent parser and ring, so the integration tests can trust it.

mod common;

use ciborium::Value as Cbor;
use common::pki::{self, LeafOptions, Validity};
use common::softauthn::{
    b64url, b64url_decode, sha256, Alg, AttestationMode, SoftAuthenticator, Tamper,
};
use der::{Decode, Encode};
use ring::signature::{
    UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1,
    ED25519,
};
use serde_json::{json, Value};

const ORIGIN: &str = "https://login.example.com";
const RP_ID: &str = "example.com";

fn creation_options(challenge: &[u8]) -> Value {
    json!({
        "rp": {"id": RP_ID, "name": "Example"},
        "user": {"id": b64url(b"user-handle-1"), "name": "alice", "displayName": "Alice"},
        "challenge": b64url(challenge),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
        "timeout": 60000,
        "excludeCredentials": [],
        "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
        "attestation": "direct",
        "extensions": {"credProps": true}
    })
}

fn request_options(challenge: &[u8], allow: &[String]) -> Value {
    json!({
        "challenge": b64url(challenge),
        "rpId": RP_ID,
        "allowCredentials": allow.iter().map(|id| json!({"type": "public-key", "id": id})).collect::<Vec<_>>(),
        "userVerification": "preferred"
    })
}

fn field(v: &Value, path: &[&str]) -> Vec<u8> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    b64url_decode(
        cur.as_str()
            .unwrap_or_else(|| panic!("{path:?} not a string in {v}")),
    )
    .expect("base64url")
}

fn cbor_get<'a>(map: &'a Cbor, key: &Cbor) -> Option<&'a Cbor> {
    map.as_map()?.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn text(k: &str) -> Cbor {
    Cbor::Text(k.to_owned())
}

/// Parsed attested authenticator data.
struct AuthData {
    rp_id_hash: [u8; 32],
    flags: u8,
    counter: u32,
    aaguid: Option<[u8; 16]>,
    cred_id: Vec<u8>,
    cose_key: Option<Cbor>,
    /// Bytes after the COSE key (or after the 37-byte header without AT).
    rest: Vec<u8>,
}

fn parse_auth_data(d: &[u8]) -> AuthData {
    assert!(d.len() >= 37, "authData too short");
    let mut a = AuthData {
        rp_id_hash: d[..32].try_into().unwrap(),
        flags: d[32],
        counter: u32::from_be_bytes(d[33..37].try_into().unwrap()),
        aaguid: None,
        cred_id: Vec::new(),
        cose_key: None,
        rest: d[37..].to_vec(),
    };
    if a.flags & 0x40 != 0 {
        a.aaguid = Some(d[37..53].try_into().unwrap());
        let len = u16::from_be_bytes([d[53], d[54]]) as usize;
        a.cred_id = d[55..55 + len].to_vec();
        let mut cursor = std::io::Cursor::new(&d[55 + len..]);
        let key: Cbor = ciborium::from_reader(&mut cursor).expect("COSE key");
        let used = cursor.position() as usize;
        a.cose_key = Some(key);
        a.rest = d[55 + len + used..].to_vec();
    }
    a
}

/// COSE key → (ring algorithm, ring public key bytes).
fn cose_to_ring(key: &Cbor) -> (&'static dyn VerificationAlgorithm, Vec<u8>, i64) {
    let int = |k: i64| -> i128 {
        cbor_get(key, &Cbor::from(k))
            .and_then(|v| v.as_integer())
            .map(i128::from)
            .unwrap_or_else(|| panic!("COSE key member {k}"))
    };
    let bytes = |k: i64| -> Vec<u8> {
        cbor_get(key, &Cbor::from(k))
            .and_then(|v| v.as_bytes())
            .cloned()
            .unwrap_or_else(|| panic!("COSE key member {k}"))
    };
    let alg = int(3) as i64;
    match (int(1), alg) {
        (2, -7) => {
            assert_eq!(int(-1), 1);
            let (x, y) = (bytes(-2), bytes(-3));
            assert_eq!((x.len(), y.len()), (32, 32));
            (&ECDSA_P256_SHA256_ASN1, [&[4u8][..], &x, &y].concat(), alg)
        }
        (2, -35) => {
            assert_eq!(int(-1), 2);
            let (x, y) = (bytes(-2), bytes(-3));
            assert_eq!((x.len(), y.len()), (48, 48));
            (&ECDSA_P384_SHA384_ASN1, [&[4u8][..], &x, &y].concat(), alg)
        }
        (1, -8) => {
            assert_eq!(int(-1), 6);
            let x = bytes(-2);
            assert_eq!(x.len(), 32);
            (&ED25519, x, alg)
        }
        other => panic!("unexpected COSE key type/alg {other:?}"),
    }
}

fn verify(alg: &'static dyn VerificationAlgorithm, key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(alg, key).verify(msg, sig).is_ok()
}

/// What a registration response decodes to.
struct Reg {
    client_data: Vec<u8>,
    fmt: String,
    att_stmt: Cbor,
    auth_data_raw: Vec<u8>,
    auth_data: AuthData,
}

fn decode_registration(resp: &Value) -> Reg {
    let client_data = field(resp, &["response", "clientDataJSON"]);
    let att_obj = field(resp, &["response", "attestationObject"]);
    let att: Cbor = ciborium::from_reader(att_obj.as_slice()).expect("attestationObject CBOR");
    let keys: Vec<String> = att
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_text().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["fmt", "attStmt", "authData"]);
    let fmt = cbor_get(&att, &text("fmt")).unwrap().as_text().unwrap();
    let att_stmt = cbor_get(&att, &text("attStmt")).unwrap().clone();
    let auth_data_raw = cbor_get(&att, &text("authData"))
        .unwrap()
        .as_bytes()
        .unwrap()
        .clone();
    assert_eq!(
        auth_data_raw,
        field(resp, &["response", "authenticatorData"]),
        "authenticatorData member mirrors authData"
    );
    Reg {
        client_data,
        fmt: fmt.to_owned(),
        att_stmt,
        auth_data: parse_auth_data(&auth_data_raw),
        auth_data_raw,
    }
}

/// Checks every honest-registration invariant; returns the credential key for ring.
fn check_honest_registration(
    resp: &Value,
    challenge: &[u8],
    expected_alg: i64,
) -> (Reg, &'static dyn VerificationAlgorithm, Vec<u8>) {
    assert_eq!(resp["type"], "public-key");
    assert_eq!(resp["id"], resp["rawId"]);
    assert_eq!(resp["authenticatorAttachment"], "platform");
    let reg = decode_registration(resp);
    let expected_cd = format!(
        r#"{{"type":"webauthn.create","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false}}"#,
        b64url(challenge)
    );
    assert_eq!(
        String::from_utf8(reg.client_data.clone()).unwrap(),
        expected_cd
    );
    let ad = &reg.auth_data;
    assert_eq!(ad.rp_id_hash, sha256(RP_ID.as_bytes()));
    assert_eq!(ad.flags, 0x01 | 0x04 | 0x40, "UP|UV|AT");
    assert_eq!(ad.counter, 0);
    assert!(ad.rest.is_empty(), "no trailing bytes");
    assert_eq!(ad.cred_id, field(resp, &["id"]));
    assert_eq!(ad.cred_id.len(), 32);
    let (ring_alg, pk, alg) = cose_to_ring(ad.cose_key.as_ref().unwrap());
    assert_eq!(alg, expected_alg);
    assert_eq!(resp["response"]["publicKeyAlgorithm"], json!(expected_alg));
    // The SPKI convenience member carries the same key: its tail is ring's raw form.
    let spki = field(resp, &["response", "publicKey"]);
    let parsed = spki::SubjectPublicKeyInfoRef::from_der(&spki).expect("SPKI DER");
    assert_eq!(parsed.subject_public_key.raw_bytes(), pk.as_slice());
    (reg, ring_alg, pk)
}

fn signed_data(auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
    [auth_data, &sha256(client_data)].concat()
}

#[test]
fn none_attestation_registration_is_well_formed() {
    let mut a = SoftAuthenticator::new();
    let resp = a.register(&creation_options(b"challenge-1"), ORIGIN);
    let (reg, _, _) = check_honest_registration(&resp, b"challenge-1", -7);
    assert_eq!(reg.fmt, "none");
    assert_eq!(reg.att_stmt, Cbor::Map(vec![]));
    assert_eq!(reg.auth_data.aaguid, Some(a.aaguid));
    assert_eq!(
        resp["clientExtensionResults"],
        json!({"credProps": {"rk": true}})
    );
    assert_eq!(resp["response"]["transports"], json!(["internal"]));
    assert_eq!(
        a.credential_ids(),
        vec![resp["id"].as_str().unwrap().to_owned()]
    );
}

#[test]
fn packed_self_attestation_verifies_for_every_alg() {
    for (alg, cose) in [(Alg::Es256, -7), (Alg::Es384, -35), (Alg::EdDsa, -8)] {
        let mut a = SoftAuthenticator::new();
        a.alg = alg;
        a.attestation = AttestationMode::PackedSelf;
        let resp = a.register(&creation_options(b"c"), ORIGIN);
        let (reg, ring_alg, pk) = check_honest_registration(&resp, b"c", cose);
        assert_eq!(reg.fmt, "packed");
        let st = &reg.att_stmt;
        assert_eq!(
            cbor_get(st, &text("alg"))
                .unwrap()
                .as_integer()
                .map(i128::from),
            Some(cose as i128)
        );
        assert!(cbor_get(st, &text("x5c")).is_none());
        let sig = cbor_get(st, &text("sig")).unwrap().as_bytes().unwrap();
        let msg = signed_data(&reg.auth_data_raw, &reg.client_data);
        assert!(verify(ring_alg, &pk, &msg, sig), "{alg:?} self attestation");

        // And the assertion with the same key.
        let ids = a.credential_ids();
        let resp = a.authenticate(&request_options(b"a", &ids), ORIGIN);
        let ad = field(&resp, &["response", "authenticatorData"]);
        let cd = field(&resp, &["response", "clientDataJSON"]);
        let sig = field(&resp, &["response", "signature"]);
        assert!(
            verify(ring_alg, &pk, &signed_data(&ad, &cd), &sig),
            "{alg:?} assertion"
        );
    }
}

/// Verify that `cert` was signed by the key in `issuer` (both P-256 / ecdsa-with-SHA256).
fn cert_signed_by(cert: &[u8], issuer: &[u8]) -> bool {
    let cert = x509_cert::Certificate::from_der(cert).expect("cert DER");
    let issuer = x509_cert::Certificate::from_der(issuer).expect("issuer DER");
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    verify(
        &ECDSA_P256_SHA256_ASN1,
        key,
        &tbs,
        cert.signature.raw_bytes(),
    ) && cert.tbs_certificate.issuer == issuer.tbs_certificate.subject
}

fn leaf_public_key(der: &[u8]) -> Vec<u8> {
    let cert = x509_cert::Certificate::from_der(der).expect("leaf DER");
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

fn extension(der: &[u8], oid: &str) -> Option<(bool, Vec<u8>)> {
    let cert = x509_cert::Certificate::from_der(der).unwrap();
    cert.tbs_certificate
        .extensions
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.extn_id.to_string() == oid)
        .map(|e| (e.critical, e.extn_value.as_bytes().to_vec()))
}

fn basic_constraints_ca(der: &[u8]) -> Option<bool> {
    extension(der, "2.5.29.19").map(|(_, v)| {
        x509_cert::ext::pkix::BasicConstraints::from_der(&v)
            .unwrap()
            .ca
    })
}

#[test]
fn packed_x5c_attestation_and_chain_verify() {
    let root = pki::root_ca("fidoflow test root");
    let inter = pki::intermediate_ca(&root, "fidoflow test intermediate", Validity::current());
    let aaguid = [7u8; 16];
    let chain = pki::attestation_chain(
        &inter,
        &[&inter],
        LeafOptions {
            aaguid_extension: Some(aaguid),
            ..Default::default()
        },
    );
    assert!(root.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(chain.x5c.len(), 2);
    assert!(cert_signed_by(&chain.x5c[0], &inter.cert_der));
    assert!(cert_signed_by(&inter.cert_der, &root.cert_der));
    assert!(cert_signed_by(&root.cert_der, &root.cert_der));
    assert!(!cert_signed_by(&chain.x5c[0], &root.cert_der));
    assert_eq!(basic_constraints_ca(&root.cert_der), Some(true));
    assert_eq!(basic_constraints_ca(&inter.cert_der), Some(true));
    assert_eq!(basic_constraints_ca(&chain.x5c[0]), Some(false));

    // §8.2.1 leaf requirements.
    let leaf = x509_cert::Certificate::from_der(&chain.x5c[0]).unwrap();
    assert_eq!(leaf.tbs_certificate.version, x509_cert::Version::V3);
    let subject = leaf.tbs_certificate.subject.to_string();
    assert!(subject.contains("C=SE"), "{subject}");
    assert!(subject.contains("O=fidoflow tests"), "{subject}");
    assert!(
        subject.contains("OU=Authenticator Attestation"),
        "{subject}"
    );
    assert!(subject.contains("CN="), "{subject}");
    let (critical, value) = extension(&chain.x5c[0], "1.3.6.1.4.1.45724.1.1.4").unwrap();
    assert!(!critical);
    assert_eq!(value, [&[0x04, 0x10][..], &aaguid].concat());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let v = &leaf.tbs_certificate.validity;
    assert!(v.not_before.to_unix_duration() < now && now < v.not_after.to_unix_duration());

    let mut a = SoftAuthenticator::new();
    a.aaguid = aaguid;
    a.attestation = AttestationMode::PackedX5c {
        chain: chain.clone(),
    };
    let resp = a.register(&creation_options(b"x5c"), ORIGIN);
    let (reg, _, _) = check_honest_registration(&resp, b"x5c", -7);
    assert_eq!(reg.fmt, "packed");
    assert_eq!(reg.auth_data.aaguid, Some(aaguid));
    let st = &reg.att_stmt;
    assert_eq!(
        cbor_get(st, &text("alg"))
            .unwrap()
            .as_integer()
            .map(i128::from),
        Some(-7)
    );
    let x5c: Vec<Vec<u8>> = cbor_get(st, &text("x5c"))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_bytes().unwrap().clone())
        .collect();
    assert_eq!(x5c, chain.x5c);
    let sig = cbor_get(st, &text("sig")).unwrap().as_bytes().unwrap();
    let msg = signed_data(&reg.auth_data_raw, &reg.client_data);
    assert!(verify(
        &ECDSA_P256_SHA256_ASN1,
        &leaf_public_key(&x5c[0]),
        &msg,
        sig
    ));

    // Flipped signature no longer verifies.
    let bad = a.register_with(
        &creation_options(b"x5c"),
        ORIGIN,
        &Tamper {
            flip_signature_byte: true,
            ..Default::default()
        },
    );
    let reg = decode_registration(&bad);
    let sig = cbor_get(&reg.att_stmt, &text("sig"))
        .unwrap()
        .as_bytes()
        .unwrap();
    let msg = signed_data(&reg.auth_data_raw, &reg.client_data);
    assert!(!verify(
        &ECDSA_P256_SHA256_ASN1,
        &leaf_public_key(&x5c[0]),
        &msg,
        sig
    ));
}

#[test]
fn leaf_options_knobs() {
    let root = pki::root_ca("root");
    let expired = pki::attestation_chain(
        &root,
        &[],
        LeafOptions {
            ca: true,
            validity: Some(Validity::expired()),
            unknown_critical_extension: true,
            organizational_unit: Some("Wrong".into()),
            ..Default::default()
        },
    );
    assert_eq!(expired.x5c.len(), 1);
    assert!(cert_signed_by(expired.leaf_der(), &root.cert_der));
    assert_eq!(basic_constraints_ca(expired.leaf_der()), Some(true));
    let (critical, _) = extension(expired.leaf_der(), "1.3.6.1.4.1.99999.42.1").unwrap();
    assert!(critical);
    assert!(extension(expired.leaf_der(), "1.3.6.1.4.1.45724.1.1.4").is_none());
    let leaf = x509_cert::Certificate::from_der(expired.leaf_der()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!(leaf.tbs_certificate.validity.not_after.to_unix_duration() < now);
    assert!(leaf
        .tbs_certificate
        .subject
        .to_string()
        .contains("OU=Wrong"));

    let inter = pki::intermediate_ca(&root, "old intermediate", Validity::expired());
    let c = x509_cert::Certificate::from_der(&inter.cert_der).unwrap();
    assert!(c.tbs_certificate.validity.not_after.to_unix_duration() < now);
}

#[test]
fn fido_u2f_attestation_verifies() {
    let root = pki::root_ca("u2f root");
    let chain = pki::attestation_chain(&root, &[], LeafOptions::default());
    let mut a = SoftAuthenticator::new();
    a.uv = false;
    a.attestation = AttestationMode::FidoU2f {
        chain: chain.clone(),
    };
    let resp = a.register(&creation_options(b"u2f"), ORIGIN);
    let reg = decode_registration(&resp);
    assert_eq!(reg.fmt, "fido-u2f");
    assert_eq!(reg.auth_data.aaguid, Some([0u8; 16]));
    assert_eq!(reg.auth_data.flags, 0x01 | 0x40);
    let (_, pk, _) = cose_to_ring(reg.auth_data.cose_key.as_ref().unwrap());
    let st = &reg.att_stmt;
    assert!(cbor_get(st, &text("alg")).is_none());
    let x5c = cbor_get(st, &text("x5c")).unwrap().as_array().unwrap();
    assert_eq!(x5c.len(), 1);
    let sig = cbor_get(st, &text("sig")).unwrap().as_bytes().unwrap();
    let msg = [
        &[0u8][..],
        &reg.auth_data.rp_id_hash,
        &sha256(&reg.client_data),
        &reg.auth_data.cred_id,
        &pk,
    ]
    .concat();
    assert!(verify(
        &ECDSA_P256_SHA256_ASN1,
        &leaf_public_key(x5c[0].as_bytes().unwrap()),
        &msg,
        sig
    ));
}

#[test]
fn discoverable_assertion_and_counter() {
    let mut a = SoftAuthenticator::new();
    let reg = a.register(&creation_options(b"r"), ORIGIN);
    let spki = field(&reg, &["response", "publicKey"]);
    let pk = spki::SubjectPublicKeyInfoRef::from_der(&spki)
        .unwrap()
        .subject_public_key
        .raw_bytes()
        .to_vec();
    for expected in 1..=3u32 {
        let challenge = format!("auth-{expected}");
        let resp = a.authenticate(&request_options(challenge.as_bytes(), &[]), ORIGIN);
        assert_eq!(resp["id"], reg["id"]);
        assert_eq!(resp["rawId"], reg["id"]);
        assert_eq!(resp["type"], "public-key");
        assert_eq!(resp["clientExtensionResults"], json!({}));
        assert_eq!(
            field(&resp, &["response", "userHandle"]),
            b"user-handle-1".to_vec()
        );
        let cd = field(&resp, &["response", "clientDataJSON"]);
        assert_eq!(
            String::from_utf8(cd.clone()).unwrap(),
            format!(
                r#"{{"type":"webauthn.get","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false}}"#,
                b64url(challenge.as_bytes())
            )
        );
        let ad_raw = field(&resp, &["response", "authenticatorData"]);
        let ad = parse_auth_data(&ad_raw);
        assert_eq!(ad_raw.len(), 37);
        assert_eq!(ad.rp_id_hash, sha256(RP_ID.as_bytes()));
        assert_eq!(ad.flags, 0x01 | 0x04);
        assert_eq!(ad.counter, expected);
        let sig = field(&resp, &["response", "signature"]);
        assert!(verify(
            &ECDSA_P256_SHA256_ASN1,
            &pk,
            &signed_data(&ad_raw, &cd),
            &sig
        ));
    }
    assert_eq!(a.sign_count, 3);
}

#[test]
fn a_saved_authenticator_restored_from_json_signs_on_with_the_same_keys_and_counter() {
    for alg in [Alg::Es256, Alg::Es384, Alg::EdDsa] {
        let mut a = SoftAuthenticator::new();
        a.alg = alg;
        let reg = a.register(&creation_options(b"r"), ORIGIN);
        let (_, ring_alg, pk) = check_honest_registration(&reg, b"r", alg.cose());
        a.authenticate(&request_options(b"first", &[]), ORIGIN);

        let text = serde_json::to_string(&a.save()).unwrap();
        let saved: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(saved["signCount"], 1);
        assert_eq!(saved["aaguid"], b64url(&a.aaguid));
        let c = &saved["credentials"][0];
        assert_eq!(c["id"], reg["id"]);
        assert_eq!(c["rpId"], RP_ID);
        assert_eq!(c["userHandle"], b64url(b"user-handle-1"));
        assert_eq!(c["discoverable"], true);
        assert_eq!(c["alg"], alg.cose());
        assert_eq!(
            b64url_decode(c["privateKeyPkcs8"].as_str().unwrap()).unwrap(),
            a.credentials()[0].private_key_pkcs8()
        );

        let mut b = SoftAuthenticator::restore(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(b.aaguid, a.aaguid);
        assert_eq!(b.credential_ids(), a.credential_ids());
        assert_eq!(b.credentials()[0].public_key_raw(), pk);
        let resp = b.authenticate(&request_options(b"second", &[]), ORIGIN);
        assert_eq!(resp["id"], reg["id"]);
        let ad_raw = field(&resp, &["response", "authenticatorData"]);
        assert_eq!(parse_auth_data(&ad_raw).counter, 2);
        let cd = field(&resp, &["response", "clientDataJSON"]);
        let sig = field(&resp, &["response", "signature"]);
        assert!(verify(ring_alg, &pk, &signed_data(&ad_raw, &cd), &sig));
    }

    // A key that is not of the named algorithm, or an unknown algorithm, is refused.
    let mut a = SoftAuthenticator::new();
    a.register(&creation_options(b"r"), ORIGIN);
    let mut saved = serde_json::to_value(a.save()).unwrap();
    saved["credentials"][0]["alg"] = json!(-8);
    let err = serde_json::from_value::<common::softauthn::SavedAuthenticator>(saved.clone())
        .unwrap_err()
        .to_string();
    assert!(err.contains("privateKeyPkcs8"), "{err}");
    saved["credentials"][0]["alg"] = json!(-257);
    let err = serde_json::from_value::<common::softauthn::SavedAuthenticator>(saved)
        .unwrap_err()
        .to_string();
    assert!(err.contains("alg"), "{err}");

    // import adds to an authenticator, replacing a credential with the same id.
    let mut c = SoftAuthenticator::new();
    c.import(a.credentials()[0].clone());
    c.import(a.credentials()[0].clone());
    assert_eq!(c.credential_ids(), a.credential_ids());
}

#[test]
fn selects_the_allowed_credential() {
    let mut a = SoftAuthenticator::new();
    let first = a.register(&creation_options(b"1"), ORIGIN);
    let _second = a.register(&creation_options(b"2"), ORIGIN);
    let ids = a.credential_ids();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], first["id"].as_str().unwrap());
    let resp = a.authenticate(&request_options(b"x", &ids[..1]), ORIGIN);
    assert_eq!(resp["id"], first["id"]);
    // Discoverable: the most recent one.
    let resp = a.authenticate(&request_options(b"x", &[]), ORIGIN);
    assert_eq!(resp["id"].as_str().unwrap(), ids[1]);
    // Wrapped options ({"publicKey": ...}) work too.
    let resp = a.authenticate(
        &json!({"publicKey": request_options(b"x", &ids[..1])}),
        ORIGIN,
    );
    assert_eq!(resp["id"], first["id"]);
    // Nothing for another RP.
    let other = json!({"challenge": b64url(b"x"), "rpId": "other.example"});
    assert!(a
        .try_authenticate_with(&other, "https://other.example", &Tamper::default())
        .is_err());
}

#[test]
fn minimal_options_do_not_panic() {
    let mut a = SoftAuthenticator::new();
    let reg = a.register(&json!({}), "https://example.org");
    let r = decode_registration(&reg);
    assert_eq!(r.auth_data.rp_id_hash, sha256(b"example.org"));
    assert_eq!(reg["clientExtensionResults"], json!({}));
    let reg = a.register(
        &json!({"rp": {"name": "x"}, "user": {"id": b64url(b"u")}, "challenge": b64url(b"c"), "extensions": {}}),
        "https://example.org:8443",
    );
    assert_eq!(
        decode_registration(&reg).auth_data.rp_id_hash,
        sha256(b"example.org")
    );
    let resp = a.authenticate(&json!({}), "https://example.org");
    assert_eq!(resp["id"], reg["id"]);
    let resp = a.authenticate(&json!({"allowCredentials": null}), "https://example.org");
    assert_eq!(resp["id"], reg["id"]);
}

#[test]
fn registration_tamper_knobs() {
    let root = pki::root_ca("r");
    let chain = pki::attestation_chain(&root, &[], LeafOptions::default());
    let mut a = SoftAuthenticator::new();
    a.attestation = AttestationMode::PackedX5c { chain };
    let opts = creation_options(b"c");
    let t = Tamper {
        client_data_type: Some("webauthn.get".into()),
        challenge: Some(b"other".to_vec()),
        origin: Some("https://evil.example".into()),
        cross_origin: Some(true),
        top_origin: Some("https://top.example".into()),
        rp_id: Some("evil.example".into()),
        up: Some(false),
        uv: Some(false),
        be: Some(false),
        bs: Some(true),
        credential_id: Some(vec![9u8; 1024]),
        raw_id_differs: true,
        alg: Some(Alg::Es384),
        public_key_member: Some("AAAA".into()),
        trailing_bytes: true,
        ..Default::default()
    };
    let resp = a.register_with(&opts, ORIGIN, &t);
    let reg = decode_registration(&resp);
    let cd: Value = serde_json::from_slice(&reg.client_data).unwrap();
    assert_eq!(
        cd,
        json!({"type": "webauthn.get", "challenge": b64url(b"other"), "origin": "https://evil.example", "crossOrigin": true, "topOrigin": "https://top.example"})
    );
    let ad = &reg.auth_data;
    assert_eq!(ad.rp_id_hash, sha256(b"evil.example"));
    assert_eq!(ad.flags, 0x10 | 0x40);
    assert_eq!(ad.cred_id, vec![9u8; 1024]);
    assert_eq!(field(&resp, &["id"]), vec![9u8; 1024]);
    assert_ne!(resp["id"], resp["rawId"]);
    assert!(!ad.rest.is_empty(), "trailing bytes present");
    let (_, _, alg) = cose_to_ring(ad.cose_key.as_ref().unwrap());
    assert_eq!(alg, -35);
    assert_eq!(resp["response"]["publicKeyAlgorithm"], -35);
    assert_eq!(resp["response"]["publicKey"], "AAAA");

    // Extras.
    let resp = a.register_with(
        &opts,
        ORIGIN,
        &Tamper {
            att_fmt: Some("bogus".into()),
            cose_alg: Some(-257),
            aaguid: Some([1; 16]),
            client_data_json_raw: Some(b"not json".to_vec()),
            forget: true,
            ..Default::default()
        },
    );
    let reg = decode_registration(&resp);
    assert_eq!(reg.fmt, "bogus");
    assert_eq!(reg.client_data, b"not json");
    assert_eq!(reg.auth_data.aaguid, Some([1; 16]));
    assert_eq!(
        cbor_get(reg.auth_data.cose_key.as_ref().unwrap(), &Cbor::from(3)),
        Some(&Cbor::from(-257))
    );
    assert_eq!(a.credential_ids().len(), 1, "forget: not stored");

    // Reusing an existing credential id doesn't replace the stored credential.
    let existing = a.credential_ids()[0].clone();
    let before = a.credential(&existing).unwrap().public_key_spki();
    a.register_with(
        &opts,
        ORIGIN,
        &Tamper {
            credential_id: b64url_decode(&existing),
            ..Default::default()
        },
    );
    assert_eq!(a.credential_ids().len(), 1);
    assert_eq!(a.credential(&existing).unwrap().public_key_spki(), before);
}

#[test]
fn assertion_tamper_knobs() {
    let mut a = SoftAuthenticator::new();
    a.be = true;
    a.bs = true;
    let reg = a.register(&creation_options(b"c"), ORIGIN);
    let pk = a.credentials()[0].public_key_raw();
    let ids = a.credential_ids();
    let opts = request_options(b"a", &ids);

    let check_sig = |resp: &Value| {
        let ad = field(resp, &["response", "authenticatorData"]);
        let cd = field(resp, &["response", "clientDataJSON"]);
        let sig = field(resp, &["response", "signature"]);
        verify(&ECDSA_P256_SHA256_ASN1, &pk, &signed_data(&ad, &cd), &sig)
    };

    let honest = a.authenticate(&opts, ORIGIN);
    assert!(check_sig(&honest));
    let ad = parse_auth_data(&field(&honest, &["response", "authenticatorData"]));
    assert_eq!(ad.flags, 0x01 | 0x04 | 0x08 | 0x10);

    let flipped = a.authenticate_with(
        &opts,
        ORIGIN,
        &Tamper {
            flip_signature_byte: true,
            ..Default::default()
        },
    );
    assert!(!check_sig(&flipped));

    let t = Tamper {
        sign_count: Some(0),
        user_handle: Some(None),
        trailing_bytes: true,
        up: Some(false),
        uv: Some(false),
        be: Some(false),
        bs: Some(false),
        rp_id: Some("evil.example".into()),
        raw_id_differs: true,
        ..Default::default()
    };
    let count_before = a.sign_count;
    let resp = a.authenticate_with(&opts, ORIGIN, &t);
    assert_eq!(
        a.sign_count, count_before,
        "forced counter leaves state alone"
    );
    assert!(check_sig(&resp), "signature covers the tampered data");
    assert_eq!(resp["response"]["userHandle"], Value::Null);
    assert_ne!(resp["id"], resp["rawId"]);
    let ad_raw = field(&resp, &["response", "authenticatorData"]);
    assert!(ad_raw.len() > 37);
    let ad = parse_auth_data(&ad_raw);
    assert_eq!(ad.counter, 0);
    assert_eq!(ad.flags, 0);
    assert_eq!(ad.rp_id_hash, sha256(b"evil.example"));

    // Unknown credential id: still an answer, signed with some key.
    let resp = a.authenticate_with(
        &opts,
        ORIGIN,
        &Tamper {
            credential_id: Some(b"unknown".to_vec()),
            user_handle: Some(Some(b"someone-else".to_vec())),
            ..Default::default()
        },
    );
    assert_eq!(field(&resp, &["id"]), b"unknown");
    assert_eq!(field(&resp, &["response", "userHandle"]), b"someone-else");

    // A cloned authenticator keeps the keys and the counter.
    let mut clone = a.clone();
    let r1 = a.authenticate(&opts, ORIGIN);
    let r2 = clone.authenticate(&opts, ORIGIN);
    assert!(check_sig(&r2));
    assert_eq!(
        parse_auth_data(&field(&r1, &["response", "authenticatorData"])).counter,
        parse_auth_data(&field(&r2, &["response", "authenticatorData"])).counter
    );
    assert!(a.forget_credential(reg["id"].as_str().unwrap()));
    assert!(a.credential_ids().is_empty());
}

#[test]
fn exclude_credentials_and_resident_key_policy() {
    let mut a = SoftAuthenticator::new();
    a.always_discoverable = false;
    let mut opts = creation_options(b"c");
    opts["authenticatorSelection"]["residentKey"] = json!("discouraged");
    let reg = a.register(&opts, ORIGIN);
    assert_eq!(
        reg["clientExtensionResults"],
        json!({"credProps": {"rk": false}})
    );
    assert!(!a.credentials()[0].discoverable);
    // Non-discoverable: no userHandle, and not found without allowCredentials.
    let resp = a.authenticate(&request_options(b"a", &a.credential_ids()), ORIGIN);
    assert!(resp["response"].get("userHandle").is_none());
    assert!(a
        .try_authenticate_with(&request_options(b"a", &[]), ORIGIN, &Tamper::default())
        .is_err());

    let mut excl = creation_options(b"d");
    excl["excludeCredentials"] = json!([{"type": "public-key", "id": reg["id"]}]);
    assert!(a.is_excluded(&excl, ORIGIN));
    assert!(!a.is_excluded(&creation_options(b"d"), ORIGIN));
}
