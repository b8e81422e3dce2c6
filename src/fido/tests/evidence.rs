use serde_json::{json, Map, Value};

use super::*;
use crate::fido::evidence::{
    verify, EvidenceDraft, EvidenceKey, EvidencePublicKey, Mode, EVIDENCE_CHECKS,
    MAX_EVIDENCE_BYTES,
};
use crate::fido::transaction::SignedContent;

const AUDIT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const PAYEE_ORIGIN: &str = "https://acme.example";

/// A transaction approved with a real registration and assertion, and the server key that
/// signs its evidence; each part can be spoiled by a test before the evidence is made.
struct Case {
    reg: Reg,
    server: EvidenceKey,
    mode: Mode,
    content: SignedContent,
    nonce: Vec<u8>,
    flags: u8,
    client_type: String,
    /// The `payment` member of the assertion's client data (spc).
    shown_payment: Option<Value>,
    user_handle: Option<Vec<u8>>,
}

impl Case {
    /// FIDO2 dynamic linking of a message and a transaction, by a packed self-attested key.
    fn dynamic_linking() -> Self {
        Self {
            reg: Reg::with(Att::SelfPacked { alg: -7 }),
            server: EvidenceKey::generate().0,
            mode: Mode::Fido2DynamicLinking,
            content: SignedContent {
                authentication_message: Some("Pay ACME Corp 1250.00 EUR".into()),
                transaction: Some(
                    json!({"amount": "1250.00", "currency": "EUR", "payee": "ACME Corp", "items": 3}),
                ),
                payment: None,
            },
            nonce: (0u8..32).collect(),
            flags: UP | UV,
            client_type: "webauthn.get".into(),
            shown_payment: None,
            user_handle: Some(b"user-7".to_vec()),
        }
    }

    /// Secure Payment Confirmation by a key registered with `none` attestation; the browser
    /// shows what is signed.
    fn spc() -> Self {
        let payment = json!({
            "payeeName": "ACME Corp",
            "payeeOrigin": PAYEE_ORIGIN,
            "total": {"currency": "EUR", "value": "1250.00"},
            "instrument": {"displayName": "Visa ••••1234", "icon": "https://bank.example/visa.png"},
        });
        let mut shown = payment.clone();
        shown["rpId"] = json!(RP_ID);
        shown["topOrigin"] = json!(PAYEE_ORIGIN);
        Self {
            reg: Reg::new(),
            mode: Mode::Spc,
            content: SignedContent {
                payment: Some(payment),
                ..SignedContent::default()
            },
            client_type: "payment.get".into(),
            shown_payment: Some(shown),
            user_handle: None,
            ..Self::dynamic_linking()
        }
    }

    fn client_data(&self) -> Vec<u8> {
        let mut data = json!({
            "type": self.client_type,
            "challenge": b64url(&self.content.challenge(&self.nonce)),
            "origin": ORIGIN,
            "crossOrigin": false,
        });
        if let Some(shown) = &self.shown_payment {
            data["payment"] = shown.clone();
        }
        serde_json::to_vec(&data).unwrap()
    }

    fn authenticator_data(&self) -> Vec<u8> {
        let mut out = sha256(RP_ID.as_bytes());
        out.push(self.flags);
        out.extend_from_slice(&7u32.to_be_bytes());
        out
    }

    /// The unsigned document of this case.
    fn document(&self) -> Map<String, Value> {
        let client_data = self.client_data();
        let authenticator_data = self.authenticator_data();
        let mut signed = authenticator_data.clone();
        signed.extend_from_slice(&sha256(&client_data));
        let signature = self.reg.key.sign(&signed);
        let public_key = self.reg.cose_key();
        let attestation_object = self.reg.attestation_object();
        let registration_client_data = self.reg.client_data();
        EvidenceDraft {
            transaction_id: "tx-0001",
            mode: self.mode,
            tenant: "acme",
            user: "alice",
            validated_at: now(),
            rp_id: RP_ID,
            content: &self.content,
            nonce: &self.nonce,
            credential_id: &self.reg.credential_id,
            public_key: &public_key,
            attestation_object: &attestation_object,
            registration_client_data: &registration_client_data,
            authenticator_data: &authenticator_data,
            client_data_json: &client_data,
            signature: &signature,
            user_handle: self.user_handle.as_deref(),
            audit_record_sha256: AUDIT,
        }
        .document()
    }

    fn evidence(&self) -> Value {
        self.server.sign(self.document())
    }

    fn pem(&self) -> String {
        self.server.public_pem()
    }

    /// The check that refuses `evidence`.
    fn refused(&self, evidence: &Value) -> &'static str {
        let bytes = serde_json::to_vec(evidence).unwrap();
        verify(&bytes, &self.pem())
            .expect_err("must be refused")
            .check
    }

    /// The check that refuses this case's document after `change`, signed again by the server.
    fn refused_resigned(&self, change: impl FnOnce(&mut Map<String, Value>)) -> &'static str {
        let mut document = self.document();
        change(&mut document);
        self.refused(&self.server.sign(document))
    }
}

#[test]
fn evidence_of_a_real_registration_and_assertion_verifies_and_says_what_was_approved() {
    let case = Case::dynamic_linking();
    let bytes = serde_json::to_vec(&case.evidence()).unwrap();
    let verified = verify(&bytes, &case.pem()).unwrap();
    assert_eq!(verified.transaction_id, "tx-0001");
    assert_eq!(verified.mode, Mode::Fido2DynamicLinking);
    assert_eq!(
        (verified.user.as_str(), verified.tenant.as_str()),
        ("alice", "acme")
    );
    assert_eq!(verified.validated_at, "2025-06-01T12:00:00Z");
    assert_eq!(verified.content, case.content);
    assert_eq!(verified.rp_id, RP_ID);
    assert_eq!(verified.credential_id, case.reg.credential_id);
    assert_eq!(verified.audit_record_sha256, AUDIT);
}

#[test]
fn the_document_has_the_members_of_the_format_in_clear_json() {
    let case = Case::dynamic_linking();
    let evidence = case.evidence();
    let names: Vec<&str> = evidence
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "format",
        "transactionID",
        "mode",
        "tenant",
        "user",
        "validatedAt",
        "rpId",
        "authenticationMessage",
        "transaction",
        "nonce",
        "challenge",
        "credential",
        "assertion",
        "auditRecordSha256",
        "serverSignature",
    ];
    expected.sort_unstable();
    let mut names = names;
    names.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(evidence["format"], "fidoflow-transaction-evidence/1");
    assert_eq!(evidence["mode"], "fido2-dynamic-linking");
    assert_eq!(evidence["transaction"]["amount"], "1250.00");
    assert_eq!(
        evidence["challenge"],
        json!(b64url(&case.content.challenge(&case.nonce)))
    );
    assert_eq!(
        evidence["assertion"]["userHandle"],
        json!(b64url(b"user-7"))
    );
    let mut credential: Vec<&String> = evidence["credential"].as_object().unwrap().keys().collect();
    credential.sort_unstable();
    assert_eq!(
        credential,
        ["attestationObject", "clientDataJSON", "id", "publicKey"]
    );
}

#[test]
fn the_server_signature_is_a_detached_es256_jws_naming_the_key() {
    let case = Case::dynamic_linking();
    let evidence = case.evidence();
    let jws = evidence["serverSignature"].as_str().unwrap();
    let (header, signature) = jws.split_once("..").unwrap();
    let header: Value =
        serde_json::from_slice(&crate::domain::b64url_decode(header).unwrap()).unwrap();
    let public = EvidencePublicKey::from_pem(&case.pem()).unwrap();
    let kid = b64url(&sha256(&public.spki_der()));
    assert_eq!(
        header,
        json!({"alg": "ES256", "kid": kid, "typ": "fidoflow-evidence+jws"})
    );
    assert_eq!(public.kid(), kid);
    assert_eq!(crate::domain::b64url_decode(signature).unwrap().len(), 64);
}

#[test]
fn every_single_byte_change_of_the_evidence_is_refused() {
    let case = Case::dynamic_linking();
    let bytes = serde_json::to_vec(&case.evidence()).unwrap();
    let pem = case.pem();
    assert!(verify(&bytes, &pem).is_ok());
    let started = std::time::Instant::now();
    let mut calls = 0;
    for i in 0..bytes.len() {
        let original = bytes[i];
        for replacement in [original ^ 0x01, b'0'] {
            if replacement == original {
                continue;
            }
            let mut changed = bytes.clone();
            changed[i] = replacement;
            calls += 1;
            assert!(
                verify(&changed, &pem).is_err(),
                "byte {i} ({:?} → {:?}) changed and the evidence still verifies",
                original as char,
                replacement as char
            );
        }
    }
    eprintln!(
        "{calls} single-byte changes of {} bytes refused in {:?}",
        bytes.len(),
        started.elapsed()
    );
}

#[test]
fn evidence_signed_by_another_key_is_refused_at_the_server_signature() {
    let case = Case::dynamic_linking();
    let other = EvidenceKey::generate().0;
    let forged = serde_json::to_vec(&other.sign(case.document())).unwrap();
    let err = verify(&forged, &case.pem()).unwrap_err();
    assert_eq!(err.check, "serverSignature");
    assert!(err.detail.contains("kid"), "{err}");
    // Even when the forger copies the right kid into the header, the signature is refused.
    let mut copied = other.sign(case.document());
    let right = case.evidence()["serverSignature"]
        .as_str()
        .unwrap()
        .to_string();
    let (header, _) = right.split_once("..").unwrap();
    let forged_sig = copied["serverSignature"].as_str().unwrap().to_string();
    let (_, signature) = forged_sig.split_once("..").unwrap();
    copied["serverSignature"] = json!(format!("{header}..{signature}"));
    let err = verify(&serde_json::to_vec(&copied).unwrap(), &case.pem()).unwrap_err();
    assert_eq!(err.check, "serverSignature");
    assert!(err.detail.contains("does not verify"), "{err}");
}

#[test]
fn a_doctored_amount_signed_again_with_the_right_key_is_refused_at_the_challenge() {
    let case = Case::dynamic_linking();
    let check = case.refused_resigned(|d| d["transaction"]["amount"] = json!("12500.00"));
    assert_eq!(check, "challenge");
    // Recomputing the challenge member does not help: the assertion's client data holds the
    // challenge the user approved.
    let check = case.refused_resigned(|d| {
        d["transaction"]["amount"] = json!("12500.00");
        let content = SignedContent {
            authentication_message: d["authenticationMessage"].as_str().map(String::from),
            transaction: Some(d["transaction"].clone()),
            payment: None,
        };
        d["challenge"] = json!(b64url(&content.challenge(&case.nonce)));
    });
    assert_eq!(check, "challenge");
    let check = case.refused_resigned(|d| d["nonce"] = json!(b64url(&[9; 32])));
    assert_eq!(check, "challenge");
}

#[test]
fn an_assertion_without_user_verification_is_refused_at_user_verified() {
    let mut case = Case::dynamic_linking();
    case.flags = UP;
    assert_eq!(case.refused(&case.evidence()), "userVerified");
    case.flags = UV;
    assert_eq!(case.refused(&case.evidence()), "userVerified");
}

#[test]
fn a_swapped_public_key_is_refused_at_the_credential_binding_or_the_signature() {
    let case = Case::dynamic_linking();
    let other = Reg::with(Att::SelfPacked { alg: -7 });
    // Only the key swapped: the registration attested another one.
    let key = b64url(&other.cose_key());
    let check = case.refused_resigned(|d| d["credential"]["publicKey"] = json!(key));
    assert_eq!(check, "credentialBinding");
    // Key and registration swapped together (same credential id): the assertion does not verify.
    let check = case.refused_resigned(|d| {
        d["credential"]["publicKey"] = json!(b64url(&other.cose_key()));
        d["credential"]["attestationObject"] = json!(b64url(&other.attestation_object()));
    });
    assert_eq!(check, "signature");
}

#[test]
fn a_registration_of_another_credential_or_ceremony_is_refused_at_the_credential_binding() {
    let case = Case::dynamic_linking();
    let check = case.refused_resigned(|d| d["credential"]["id"] = json!(b64url(&[0xc2; 32])));
    assert_eq!(check, "credentialBinding");
    let mut get = Reg::new();
    get.client_type = "webauthn.get".into();
    let check = case.refused_resigned(|d| {
        d["credential"]["clientDataJSON"] = json!(b64url(&get.client_data()));
    });
    assert_eq!(check, "credentialBinding");
    let mut elsewhere = Case::dynamic_linking();
    elsewhere.reg.rp_id = "other.example".into();
    assert_eq!(
        elsewhere.refused(&elsewhere.evidence()),
        "credentialBinding"
    );
}

#[test]
fn an_spc_document_verifies_and_a_payee_the_browser_did_not_show_is_refused_at_client_data() {
    let case = Case::spc();
    let bytes = serde_json::to_vec(&case.evidence()).unwrap();
    let verified = verify(&bytes, &case.pem()).unwrap();
    assert_eq!(verified.mode, Mode::Spc);
    assert_eq!(verified.content.payment, case.content.payment);

    let mut shown_other = Case::spc();
    shown_other.shown_payment.as_mut().unwrap()["payeeName"] = json!("Evil Corp");
    assert_eq!(shown_other.refused(&shown_other.evidence()), "clientData");
    for member in ["payeeOrigin", "total", "instrument"] {
        let mut case = Case::spc();
        case.shown_payment.as_mut().unwrap()[member] = json!("something else");
        assert_eq!(case.refused(&case.evidence()), "clientData", "{member}");
    }
    let mut nested = Case::spc();
    nested.shown_payment.as_mut().unwrap()["total"]["value"] = json!("1.00");
    assert_eq!(nested.refused(&nested.evidence()), "clientData");
    let mut not_shown = Case::spc();
    not_shown.shown_payment = None;
    assert_eq!(not_shown.refused(&not_shown.evidence()), "clientData");
}

#[test]
fn an_spc_client_data_may_spell_out_members_the_signed_payment_left_to_their_default() {
    let mut case = Case::spc();
    case.shown_payment.as_mut().unwrap()["instrument"]["iconMustBeShown"] = json!(true);
    let bytes = serde_json::to_vec(&case.evidence()).unwrap();
    assert!(verify(&bytes, &case.pem()).is_ok());
    // The other way round, a signed member the browser did not show is refused.
    let mut case = Case::spc();
    case.content.payment.as_mut().unwrap()["instrument"]["iconMustBeShown"] = json!(true);
    assert_eq!(case.refused(&case.evidence()), "clientData");
}

#[test]
fn a_client_data_type_of_the_other_mode_is_refused_at_client_data() {
    let mut case = Case::dynamic_linking();
    case.client_type = "payment.get".into();
    assert_eq!(case.refused(&case.evidence()), "clientData");
    let mut case = Case::spc();
    case.client_type = "webauthn.get".into();
    assert_eq!(case.refused(&case.evidence()), "clientData");
}

#[test]
fn an_assertion_for_another_relying_party_is_refused_at_the_rp_id_hash() {
    let case = Case::dynamic_linking();
    assert_eq!(
        case.refused_resigned(|d| d["rpId"] = json!("evil.example")),
        "rpIdHash"
    );
}

#[test]
fn a_tampered_assertion_signature_is_refused_at_the_signature() {
    let case = Case::dynamic_linking();
    let check = case.refused_resigned(|d| {
        let mut signature =
            crate::domain::b64url_decode(d["assertion"]["signature"].as_str().unwrap()).unwrap();
        let last = signature.len() - 1;
        signature[last] ^= 1;
        d["assertion"]["signature"] = json!(b64url(&signature));
    });
    assert_eq!(check, "signature");
}

#[test]
fn missing_unknown_mistyped_or_null_members_are_refused_at_members() {
    let case = Case::dynamic_linking();
    type Spoil = fn(&mut Map<String, Value>);
    let spoils: Vec<(Spoil, &str)> = vec![
        (|d| drop(d.remove("nonce")), "\"nonce\" is missing"),
        (
            |d| drop(d.remove("credential")),
            "\"credential\" is missing",
        ),
        (
            |d| drop(d["assertion"].as_object_mut().unwrap().remove("signature")),
            "\"assertion.signature\" is missing",
        ),
        (
            |d| drop(d.insert("extra".into(), json!(1))),
            "\"extra\" is unknown",
        ),
        (
            |d| d["credential"]["aaguid"] = json!("AA"),
            "\"credential.aaguid\" is unknown",
        ),
        (|d| d["user"] = json!(7), "\"user\" is not a string"),
        (
            |d| d["assertion"] = json!([]),
            "\"assertion\" is not an object",
        ),
        (
            |d| d["transaction"] = json!(null),
            "\"transaction\" is null",
        ),
        (
            |d| d["assertion"]["userHandle"] = json!(null),
            "\"assertion.userHandle\" is null",
        ),
        (
            |d| d["format"] = json!("fidoflow-transaction-evidence/2"),
            "\"format\" is",
        ),
        (
            |d| d["mode"] = json!("uaf-transaction-confirmation"),
            "\"mode\" is",
        ),
        (
            |d| d["validatedAt"] = json!("2025-06-01T14:00:00+02:00"),
            "\"validatedAt\"",
        ),
        (
            |d| d["validatedAt"] = json!("2025-06-01T12:00:00.5Z"),
            "\"validatedAt\"",
        ),
        (
            |d| d["auditRecordSha256"] = json!(AUDIT.to_uppercase()),
            "\"auditRecordSha256\"",
        ),
        (|d| d["tenant"] = json!(""), "\"tenant\" is empty"),
        (
            |d| d["transaction"]["amount"] = json!(1250.5),
            "transaction.amount",
        ),
        (
            |d| d["authenticationMessage"] = json!("two\nlines"),
            "authenticationMessage",
        ),
        (
            |d| drop(d.insert("payment".into(), json!("ACME"))),
            "\"payment\" is not an object",
        ),
        (
            |d| d["assertion"]["authenticatorData"] = json!(b64url(&[0; 36])),
            "assertion.authenticatorData",
        ),
        (
            |d| {
                d.remove("authenticationMessage");
                d.remove("transaction");
            },
            "no authenticationMessage, transaction or payment",
        ),
    ];
    for (spoil, detail) in spoils {
        let mut document = case.document();
        spoil(&mut document);
        let bytes = serde_json::to_vec(&case.server.sign(document)).unwrap();
        let err = verify(&bytes, &case.pem()).unwrap_err();
        assert_eq!(err.check, "members", "{err}");
        assert!(err.detail.contains(detail), "{detail:?} not in {err}");
    }
    let mut case = Case::spc();
    case.content.payment = None;
    case.content.authentication_message = Some("Pay".into());
    assert_eq!(case.refused(&case.evidence()), "members");
}

#[test]
fn base64url_is_decoded_strictly_so_each_byte_string_has_one_spelling() {
    let case = Case::dynamic_linking();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let nonce = b64url(&case.nonce);
    // 32 bytes take 43 characters, the last holding 4 bits and 2 unused ones: setting an unused
    // bit gives the same bytes to a lax decoder.
    let (head, last) = nonce.split_at(nonce.len() - 1);
    let last = ALPHABET
        .iter()
        .position(|c| *c == last.as_bytes()[0])
        .unwrap();
    let lax = format!("{head}{}", ALPHABET[last | 1] as char);
    assert_ne!(lax, nonce);
    for spelling in [format!("{nonce}="), lax, format!("{head}+")] {
        let check = case.refused_resigned(|d| d["nonce"] = json!(spelling));
        assert_eq!(check, "members", "{spelling}");
    }
}

#[test]
fn a_member_named_twice_is_refused_even_when_the_signature_covers_the_last() {
    let case = Case::dynamic_linking();
    let text = String::from_utf8(serde_json::to_vec(&case.evidence()).unwrap()).unwrap();
    let doubled = text.replacen("{", r#"{"user":"mallory","#, 1);
    let err = verify(doubled.as_bytes(), &case.pem()).unwrap_err();
    assert_eq!(err.check, "members");
    assert!(err.detail.contains("user"), "{err}");
}

#[test]
fn text_that_is_not_a_json_object_or_too_large_is_refused_at_json() {
    let case = Case::dynamic_linking();
    for text in [&b"[]"[..], b"\"evidence\"", b"{", b""] {
        assert_eq!(verify(text, &case.pem()).unwrap_err().check, "json");
    }
    let mut big = case.evidence();
    big["padding"] = json!("x".repeat(MAX_EVIDENCE_BYTES));
    let err = verify(&serde_json::to_vec(&big).unwrap(), &case.pem()).unwrap_err();
    assert_eq!(err.check, "json");
    assert!(err.detail.contains("at most 1048576"), "{err}");
    // Exactly the limit is read (and refused for what it holds, not for its size); one byte
    // more is not.
    let mut at_limit = b"{}".to_vec();
    at_limit.resize(MAX_EVIDENCE_BYTES, b' ');
    assert_eq!(verify(&at_limit, &case.pem()).unwrap_err().check, "members");
    at_limit.push(b' ');
    assert_eq!(verify(&at_limit, &case.pem()).unwrap_err().check, "json");
}

#[test]
fn a_server_signature_of_the_wrong_shape_or_header_is_refused_at_server_signature() {
    let case = Case::dynamic_linking();
    let evidence = case.evidence();
    let jws = evidence["serverSignature"].as_str().unwrap().to_string();
    let (_, signature) = jws.split_once("..").unwrap();
    let kid = EvidencePublicKey::from_pem(&case.pem()).unwrap().kid();
    let header = |h: Value| b64url(&serde_json::to_vec(&h).unwrap());
    let cases = [
        (jws.replace("..", "."), "detached payload"),
        (format!("{jws}."), "detached payload"),
        (
            format!(
                "{}..{signature}",
                header(json!({"alg": "ES384", "kid": kid, "typ": "fidoflow-evidence+jws"}))
            ),
            "alg",
        ),
        (
            format!(
                "{}..{signature}",
                header(json!({"alg": "ES256", "kid": kid, "typ": "JWT"}))
            ),
            "typ",
        ),
        (
            format!(
                "{}..{signature}",
                header(
                    json!({"alg": "ES256", "kid": kid, "typ": "fidoflow-evidence+jws", "crit": ["b64"]})
                )
            ),
            "crit",
        ),
        (format!("e30..{signature}"), "alg"),
    ];
    for (spoiled, detail) in cases {
        let mut evidence = evidence.clone();
        evidence["serverSignature"] = json!(spoiled);
        let err = verify(&serde_json::to_vec(&evidence).unwrap(), &case.pem()).unwrap_err();
        assert_eq!(err.check, "serverSignature", "{spoiled}");
        assert!(err.detail.contains(detail), "{detail:?} not in {err}");
    }
    let mut unsigned = evidence.clone();
    unsigned.as_object_mut().unwrap().remove("serverSignature");
    assert_eq!(case.refused(&unsigned), "members");
}

#[test]
fn every_refusal_names_one_of_the_evidence_checks() {
    assert_eq!(
        EVIDENCE_CHECKS,
        [
            "json",
            "members",
            "serverSignature",
            "challenge",
            "clientData",
            "rpIdHash",
            "userVerified",
            "credentialBinding",
            "signature"
        ]
    );
    let case = Case::dynamic_linking();
    let err = verify(b"{}", &case.pem()).unwrap_err();
    assert!(EVIDENCE_CHECKS.contains(&err.check));
    assert!(
        err.to_string().starts_with("evidence refused (members): "),
        "{err}"
    );
}

#[test]
fn an_evidence_key_round_trips_through_pkcs8_pem_and_its_public_key_through_spki_pem() {
    let (key, pem) = EvidenceKey::generate();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    let again = EvidenceKey::from_pem(&pem).unwrap();
    assert_eq!(again.public_pem(), key.public_pem());
    let public = key.public_pem();
    assert!(
        public.starts_with("-----BEGIN PUBLIC KEY-----\n"),
        "{public}"
    );
    assert!(public.lines().all(|l| l.len() <= 64));
    assert_eq!(
        EvidencePublicKey::from_pem(&public).unwrap().to_pem(),
        public
    );
    // Evidence signed with the key read back verifies with the first one's public key.
    let case = Case {
        server: again,
        ..Case::dynamic_linking()
    };
    let bytes = serde_json::to_vec(&case.evidence()).unwrap();
    assert!(verify(&bytes, &key.public_pem()).is_ok());
}

#[test]
fn a_private_key_that_is_not_pem_pkcs8_or_p256_is_refused_saying_which() {
    let pem = |label: &str, der: &[u8]| {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    };
    let rng = SystemRandom::new();
    let p384 = EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING, &rng)
        .unwrap();
    let ed25519 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let cases = [
        ("just text".to_string(), "not PEM"),
        (pem("EC PRIVATE KEY", &[0x30, 0x00]), "SEC 1"),
        (pem("ENCRYPTED PRIVATE KEY", &[0x30, 0x00]), "encrypted"),
        (pem("PRIVATE KEY", b"not der"), "not PKCS#8"),
        (
            pem("PRIVATE KEY", p384.as_ref()),
            "not P-256: the EC key is on P-384",
        ),
        (
            pem("PRIVATE KEY", ed25519.as_ref()),
            "not P-256: the key is an Ed25519 key",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n".into(),
            "not PEM",
        ),
    ];
    for (text, expected) in cases {
        let err = EvidenceKey::from_pem(&text).unwrap_err();
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
    }
}

#[test]
fn a_public_key_that_is_not_spki_p256_is_refused_at_key() {
    let case = Case::dynamic_linking();
    let bytes = serde_json::to_vec(&case.evidence()).unwrap();
    let certificate = Pki::new().root.pem();
    for pem in [
        "",
        "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
        &certificate,
    ] {
        assert_eq!(verify(&bytes, pem).unwrap_err().check, "key");
    }
}

/// The first half of every check, which modes verified outside `fido` (UAF) build on: the
/// members of a document whose server signature holds, without the signature; a document
/// signed by another key, or not JSON, refused as `verify` refuses it.
#[test]
fn a_signed_document_is_opened_only_with_the_servers_key() {
    let case = Case::dynamic_linking();
    let key = EvidencePublicKey::from_pem(&case.pem()).unwrap();
    let evidence = case.evidence();
    let bytes = serde_json::to_vec(&evidence).unwrap();
    let opened = crate::fido::evidence::open_signed(&bytes, &key).unwrap();
    let mut expected = evidence.as_object().unwrap().clone();
    expected.remove("serverSignature");
    assert_eq!(opened, expected);
    let other = EvidenceKey::generate().0;
    let forged = serde_json::to_vec(&other.sign(case.document())).unwrap();
    let err = crate::fido::evidence::open_signed(&forged, &key).unwrap_err();
    assert_eq!(err.check, "serverSignature");
    let err = crate::fido::evidence::open_signed(b"[1]", &key).unwrap_err();
    assert_eq!(err.check, "json");
    // A mode this module does not verify is named as such by `verify`.
    assert_eq!(
        Mode::UafTransactionConfirmation.as_str(),
        "uaf-transaction-confirmation"
    );
    assert_eq!(Mode::parse("uaf-transaction-confirmation"), None);
}
