//! Packed and fido-u2f x5c attestation with rcgen certificate chains: path validation and the
//! attestation policy.

use super::*;
use crate::fido::{
    verify_registration, AttestationType, RegistrationError, TrustAnchorError, VerifiedRegistration,
};

fn verify_with(
    reg: &Reg,
    anchors: &TrustAnchors,
    policy: AttestationPolicy,
) -> Result<VerifiedRegistration, RegistrationError> {
    let origins = origins();
    let mut exp = expectations(&origins, anchors);
    exp.policy = policy;
    verify_registration(&reg.json(), &exp)
}

/// Refused under RequireTrusted with a reason containing `reason`, accepted untrusted under
/// AcceptAny.
fn untrusted_because(reg: &Reg, anchors: &TrustAnchors, reason: &str) {
    let err = verify_with(reg, anchors, AttestationPolicy::RequireTrusted).unwrap_err();
    assert!(
        matches!(err, RegistrationError::UntrustedAttestation(ref r) if r.contains(reason)),
        "{err}"
    );
    let ok = verify_with(reg, anchors, AttestationPolicy::AcceptAny).unwrap();
    assert!(!ok.attestation_trusted);
}

fn anchors_of(issued: &Issued) -> TrustAnchors {
    TrustAnchors::from_pem(&issued.pem()).unwrap()
}

#[test]
fn a_packed_chain_to_a_configured_root_is_trusted() {
    let pki = Pki::new();
    let ok = verify_with(
        &pki.packed(),
        &pki.anchors(),
        AttestationPolicy::RequireTrusted,
    )
    .unwrap();
    assert_eq!(ok.format, "packed");
    assert_eq!(ok.attestation_type, AttestationType::Basic);
    assert!(ok.attestation_trusted);
}

#[test]
fn the_anchor_may_also_be_the_last_x5c_certificate() {
    let pki = Pki::new();
    let reg = Reg::with(Att::Packed {
        x5c: vec![pki.leaf.der(), pki.intermediate.der(), pki.root.der()],
        signer: pki.leaf.signer(),
    });
    let ok = verify_with(&reg, &pki.anchors(), AttestationPolicy::RequireTrusted).unwrap();
    assert!(ok.attestation_trusted);
}

#[test]
fn an_intermediate_configured_as_anchor_is_enough() {
    let pki = Pki::new();
    let reg = Reg::with(Att::Packed {
        x5c: vec![pki.leaf.der()],
        signer: pki.leaf.signer(),
    });
    let anchors = anchors_of(&pki.intermediate);
    let ok = verify_with(&reg, &anchors, AttestationPolicy::RequireTrusted).unwrap();
    assert!(ok.attestation_trusted);
}

#[test]
fn a_chain_missing_its_intermediate_does_not_reach_the_root() {
    let pki = Pki::new();
    let reg = Reg::with(Att::Packed {
        x5c: vec![pki.leaf.der()],
        signer: pki.leaf.signer(),
    });
    untrusted_because(
        &reg,
        &pki.anchors(),
        "does not lead to a configured trust anchor",
    );
}

#[test]
fn a_chain_to_an_unknown_root_is_refused_when_trust_is_required() {
    let pki = Pki::new();
    let stranger = self_signed(ca_params("Test Root", None));
    untrusted_because(
        &pki.packed(),
        &anchors_of(&stranger),
        "does not lead to a configured trust anchor",
    );
}

#[test]
fn without_anchors_an_x5c_attestation_is_untrusted() {
    let pki = Pki::new();
    untrusted_because(
        &pki.packed(),
        &TrustAnchors::empty(),
        "no attestation trust anchors",
    );
}

#[test]
fn an_expired_intermediate_is_refused_when_trust_is_required() {
    let root = self_signed(ca_params("Test Root", None));
    let mut params = ca_params("Old Intermediate", None);
    params.not_after = rcgen::date_time_ymd(2025, 1, 1);
    let intermediate = issue(params, &root);
    let leaf = issue(leaf_params(Some(AAGUID)), &intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), intermediate.der()],
        signer: leaf.signer(),
    });
    untrusted_because(
        &reg,
        &anchors_of(&root),
        "certificate 2 of the attestation chain expired at 2025-01-01",
    );
}

#[test]
fn a_leaf_that_is_not_yet_valid_is_refused_when_trust_is_required() {
    let pki = Pki::new();
    let mut params = leaf_params(Some(AAGUID));
    params.not_before = rcgen::date_time_ymd(2026, 1, 1);
    let leaf = issue(params, &pki.intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), pki.intermediate.der()],
        signer: leaf.signer(),
    });
    untrusted_because(
        &reg,
        &pki.anchors(),
        "certificate 1 of the attestation chain is not valid before",
    );
}

#[test]
fn an_expired_anchor_is_refused_when_trust_is_required() {
    let mut params = ca_params("Old Root", None);
    params.not_after = rcgen::date_time_ymd(2025, 1, 1);
    let root = self_signed(params);
    let leaf = issue(leaf_params(None), &root);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der()],
        signer: leaf.signer(),
    });
    untrusted_because(&reg, &anchors_of(&root), "the trust anchor expired");
}

#[test]
fn a_leaf_that_is_a_ca_is_refused() {
    let pki = Pki::new();
    let mut params = leaf_params(Some(AAGUID));
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let leaf = issue(params, &pki.intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), pki.intermediate.der()],
        signer: leaf.signer(),
    });
    for policy in [
        AttestationPolicy::AcceptAny,
        AttestationPolicy::RequireTrusted,
    ] {
        let err = verify_with(&reg, &pki.anchors(), policy).unwrap_err();
        assert_eq!(err.check(), "attestationCertificate", "{err}");
    }
}

#[test]
fn an_intermediate_that_is_not_a_ca_is_refused_when_trust_is_required() {
    let root = self_signed(ca_params("Test Root", None));
    let mut params = ca_params("Not A CA", None);
    params.is_ca = rcgen::IsCa::NoCa;
    params.key_usages = vec![];
    let intermediate = issue(params, &root);
    let leaf = issue(leaf_params(Some(AAGUID)), &intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), intermediate.der()],
        signer: leaf.signer(),
    });
    untrusted_because(
        &reg,
        &anchors_of(&root),
        "certificate 2 of the attestation chain is not a CA",
    );
}

#[test]
fn an_intermediate_without_key_cert_sign_is_refused_when_trust_is_required() {
    let root = self_signed(ca_params("Test Root", None));
    let mut params = ca_params("No Cert Sign", None);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let intermediate = issue(params, &root);
    let leaf = issue(leaf_params(Some(AAGUID)), &intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), intermediate.der()],
        signer: leaf.signer(),
    });
    untrusted_because(&reg, &anchors_of(&root), "may not sign certificates");
}

#[test]
fn an_exceeded_path_length_constraint_is_refused_when_trust_is_required() {
    let root = self_signed(ca_params("Test Root", Some(0)));
    let intermediate = issue(ca_params("Test Intermediate", None), &root);
    let leaf = issue(leaf_params(Some(AAGUID)), &intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), intermediate.der()],
        signer: leaf.signer(),
    });
    untrusted_because(
        &reg,
        &anchors_of(&root),
        "allows 0 intermediate certificates",
    );
}

#[test]
fn an_unknown_critical_extension_is_refused_when_trust_is_required() {
    let root = self_signed(ca_params("Test Root", None));
    let mut params = ca_params("Test Intermediate", None);
    params.custom_extensions.push(unknown_critical_extension());
    let intermediate = issue(params, &root);
    let leaf = issue(leaf_params(Some(AAGUID)), &intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), intermediate.der()],
        signer: leaf.signer(),
    });
    untrusted_because(&reg, &anchors_of(&root), "critical extension");
}

#[test]
fn a_chain_longer_than_five_certificates_is_refused() {
    let root = self_signed(ca_params("Root", None));
    let mut chain = vec![root];
    for i in 0..5 {
        let next = issue(ca_params(&format!("CA {i}"), None), chain.last().unwrap());
        chain.push(next);
    }
    let leaf = issue(leaf_params(None), chain.last().unwrap());
    let mut x5c = vec![leaf.der()];
    x5c.extend(chain.iter().rev().take(4).map(Issued::der));
    let reg = Reg::with(Att::Packed {
        x5c,
        signer: leaf.signer(),
    });
    untrusted_because(&reg, &anchors_of(&chain[0]), "longer than 5");
}

#[test]
fn an_aaguid_extension_that_differs_is_refused() {
    let pki = Pki::new();
    let leaf = issue(leaf_params(Some([0x22; 16])), &pki.intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), pki.intermediate.der()],
        signer: leaf.signer(),
    });
    let err = verify_with(&reg, &pki.anchors(), AttestationPolicy::AcceptAny).unwrap_err();
    assert!(
        matches!(err, RegistrationError::CertificateInvalid(ref r) if r.contains("AAGUID")),
        "{err}"
    );
}

/// Chrome's virtual authenticator (and other real ones) encode the leaf's BasicConstraints as
/// `30 03 01 01 00`: cA FALSE written out, which DER forbids but which means "not a CA". It is
/// accepted; a leaf that says cA TRUE is refused.
#[test]
fn a_leaf_whose_basic_constraints_spell_out_ca_false_is_accepted() {
    let pki = Pki::new();
    let with_constraints = |value: Vec<u8>| {
        let mut params = leaf_params(Some(AAGUID));
        params.is_ca = rcgen::IsCa::NoCa;
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &[2, 5, 29, 19],
                value,
            ));
        let leaf = issue(params, &pki.intermediate);
        Reg::with(Att::Packed {
            x5c: vec![leaf.der(), pki.intermediate.der()],
            signer: leaf.signer(),
        })
    };
    let chrome = with_constraints(vec![0x30, 0x03, 0x01, 0x01, 0x00]);
    let ok = verify_with(&chrome, &pki.anchors(), AttestationPolicy::RequireTrusted).unwrap();
    assert!(ok.attestation_trusted);
    let ca = with_constraints(vec![0x30, 0x03, 0x01, 0x01, 0xff]);
    let err = verify_with(&ca, &pki.anchors(), AttestationPolicy::AcceptAny).unwrap_err();
    assert_eq!(err.check(), "attestationCertificate", "{err}");
}

#[test]
fn a_leaf_without_the_attestation_subject_is_refused() {
    let pki = Pki::new();
    let mut params = leaf_params(None);
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CountryName, "CH");
    dn.push(rcgen::DnType::OrganizationName, "Test Vendor");
    dn.push(rcgen::DnType::CommonName, "Test Authenticator");
    params.distinguished_name = dn;
    let leaf = issue(params, &pki.intermediate);
    let reg = Reg::with(Att::Packed {
        x5c: vec![leaf.der(), pki.intermediate.der()],
        signer: leaf.signer(),
    });
    let err = verify_with(&reg, &pki.anchors(), AttestationPolicy::AcceptAny).unwrap_err();
    assert_eq!(err.check(), "attestationCertificate", "{err}");
}

/// A packed registration whose leaf's subject is C, O, OU "Authenticator Attestation", CN.
fn packed_with_subject(pki: &Pki, c: &str, o: &str, cn: &str) -> Reg {
    let mut params = leaf_params(None);
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CountryName, c);
    dn.push(rcgen::DnType::OrganizationName, o);
    dn.push(
        rcgen::DnType::OrganizationalUnitName,
        "Authenticator Attestation",
    );
    dn.push(rcgen::DnType::CommonName, cn);
    params.distinguished_name = dn;
    let leaf = issue(params, &pki.intermediate);
    Reg::with(Att::Packed {
        x5c: vec![leaf.der(), pki.intermediate.der()],
        signer: leaf.signer(),
    })
}

fn certificate_refusal(reg: &Reg, anchors: &TrustAnchors) -> String {
    let err = verify_with(reg, anchors, AttestationPolicy::AcceptAny).unwrap_err();
    assert_eq!(err.check(), "attestationCertificate", "{err}");
    err.to_string()
}

#[test]
fn a_packed_leaf_with_an_empty_organization_or_common_name_is_refused() {
    let pki = Pki::new();
    let anchors = pki.anchors();
    let reg = packed_with_subject(&pki, "CH", "Test Vendor", "Test Authenticator");
    verify_with(&reg, &anchors, AttestationPolicy::RequireTrusted).expect("a full subject");
    for (what, reg) in [
        (
            "organization",
            packed_with_subject(&pki, "CH", "", "Test Authenticator"),
        ),
        (
            "common name",
            packed_with_subject(&pki, "CH", "Test Vendor", ""),
        ),
    ] {
        let why = certificate_refusal(&reg, &anchors);
        assert!(why.contains(&format!("non-empty {what}")), "{why}");
    }
}

#[test]
fn a_packed_leaf_country_that_is_not_two_letters_is_refused() {
    let pki = Pki::new();
    let anchors = pki.anchors();
    let reg = packed_with_subject(&pki, "SE", "Test Vendor", "Test Authenticator");
    verify_with(&reg, &anchors, AttestationPolicy::RequireTrusted).expect("two letters");
    for country in ["SWE", "C1"] {
        let reg = packed_with_subject(&pki, country, "Test Vendor", "Test Authenticator");
        let why = certificate_refusal(&reg, &anchors);
        assert!(why.contains("two-letter"), "{country}: {why}");
    }
}

#[test]
fn a_packed_signature_by_another_key_is_refused() {
    let pki = Pki::new();
    let reg = Reg::with(Att::Packed {
        x5c: vec![pki.leaf.der(), pki.intermediate.der()],
        signer: Key::generate(),
    });
    let err = verify_with(&reg, &pki.anchors(), AttestationPolicy::AcceptAny).unwrap_err();
    assert_eq!(err.check(), "attestationSignature");
}

#[test]
fn a_tampered_packed_signature_is_refused() {
    let pki = Pki::new();
    let mut reg = pki.packed();
    reg.tamper_signature = true;
    let err = verify_with(&reg, &pki.anchors(), AttestationPolicy::AcceptAny).unwrap_err();
    assert_eq!(err.check(), "attestationSignature");
}

#[test]
fn an_x5c_entry_that_is_not_a_certificate_is_refused() {
    let pki = Pki::new();
    let reg = Reg::with(Att::Packed {
        x5c: vec![vec![0x30, 0x03, 0x02, 0x01, 0x01]],
        signer: pki.leaf.signer(),
    });
    let err = verify_with(&reg, &pki.anchors(), AttestationPolicy::AcceptAny).unwrap_err();
    assert_eq!(err.check(), "attestationCertificate");
}

/// A U2F attestation certificate: no §8.2.1 subject requirements.
fn u2f_leaf(pki: &Pki) -> Issued {
    let mut params = ca_params("U2F Device", None);
    params.is_ca = rcgen::IsCa::NoCa;
    params.key_usages = vec![];
    issue(params, &pki.intermediate)
}

#[test]
fn a_fido_u2f_attestation_verifies_and_chains_to_its_root() {
    let pki = Pki::new();
    let leaf = u2f_leaf(&pki);
    let mut reg = Reg::with(Att::U2f {
        x5c: vec![leaf.der()],
        signer: leaf.signer(),
    });
    reg.aaguid = [0; 16];
    let anchors = anchors_of(&pki.intermediate);
    let ok = verify_with(&reg, &anchors, AttestationPolicy::RequireTrusted).unwrap();
    assert_eq!(ok.format, "fido-u2f");
    assert!(ok.attestation_trusted);
    let ok = verify_with(&reg, &TrustAnchors::empty(), AttestationPolicy::AcceptAny).unwrap();
    assert!(!ok.attestation_trusted);
}

#[test]
fn a_tampered_fido_u2f_signature_is_refused() {
    let pki = Pki::new();
    let leaf = u2f_leaf(&pki);
    let mut reg = Reg::with(Att::U2f {
        x5c: vec![leaf.der()],
        signer: leaf.signer(),
    });
    reg.tamper_signature = true;
    let err = verify_with(&reg, &TrustAnchors::empty(), AttestationPolicy::AcceptAny).unwrap_err();
    assert_eq!(err.check(), "attestationSignature");
}

#[test]
fn a_fido_u2f_attestation_with_two_certificates_is_refused() {
    let pki = Pki::new();
    let leaf = u2f_leaf(&pki);
    let reg = Reg::with(Att::U2f {
        x5c: vec![leaf.der(), pki.intermediate.der()],
        signer: leaf.signer(),
    });
    let err = verify_with(&reg, &TrustAnchors::empty(), AttestationPolicy::AcceptAny).unwrap_err();
    assert_eq!(err.check(), "attestationStatement");
}

#[test]
fn trust_anchors_load_from_pem_text_and_folders() {
    let pki = Pki::new();
    let both = format!(
        "subject=CN = Test Root\n{}\nsome comment\n{}",
        pki.root.pem(),
        pki.intermediate.pem()
    );
    assert_eq!(TrustAnchors::from_pem(&both).unwrap().len(), 2);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.pem"), pki.root.pem()).unwrap();
    std::fs::write(dir.path().join("ca.crt"), pki.intermediate.pem()).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a certificate").unwrap();
    assert_eq!(TrustAnchors::from_dir(dir.path()).unwrap().len(), 2);
    std::fs::write(
        dir.path().join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = TrustAnchors::from_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("broken.pem"), "{err}");
}

#[test]
fn pem_text_without_a_certificate_is_refused() {
    assert!(matches!(
        TrustAnchors::from_pem("hello"),
        Err(TrustAnchorError::NoCertificate(None))
    ));
    assert!(matches!(
        TrustAnchors::from_pem("-----BEGIN CERTIFICATE-----\nMIIB\n"),
        Err(TrustAnchorError::InvalidCertificate { .. })
    ));
    assert!(TrustAnchors::empty().is_empty());
}

/// A certificate is valid from the second of its notBefore through the second of its notAfter,
/// both included.
#[test]
fn a_certificate_is_valid_at_both_ends_of_its_validity_period() {
    use crate::fido::trust::check_validity;
    use der::Decode;
    let issued = self_signed(ca_params("Test Root", None));
    let cert = x509_cert::Certificate::from_der(&issued.der()).unwrap();
    let at = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    check_validity(&cert, at("2024-01-01T00:00:00Z")).expect("at notBefore");
    check_validity(&cert, at("2030-01-01T00:00:00Z")).expect("at notAfter");
    let early = check_validity(&cert, at("2023-12-31T23:59:59Z")).unwrap_err();
    assert!(early.contains("is not valid before 2024-01-01"), "{early}");
    let late = check_validity(&cert, at("2030-01-01T00:00:01Z")).unwrap_err();
    assert!(late.contains("expired at 2030-01-01"), "{late}");
}

/// The chain check for attestations verified outside `fido` (UAF basic full): DER certificates,
/// leaf first, to the anchors at a time.
#[test]
fn a_der_chain_is_checked_against_the_anchors() {
    let pki = Pki::new();
    let chain = vec![pki.leaf.der(), pki.intermediate.der()];
    assert_eq!(
        crate::fido::chain_to_anchors(&chain, &pki.anchors(), now()),
        Ok(())
    );
    let other = Pki::new();
    assert!(crate::fido::chain_to_anchors(&chain, &other.anchors(), now()).is_err());
    let missing = crate::fido::chain_to_anchors(&[pki.leaf.der()], &pki.anchors(), now());
    assert!(
        missing.is_err(),
        "without its intermediate the leaf reaches no root"
    );
    let garbage = crate::fido::chain_to_anchors(&[vec![0x30, 0x01]], &pki.anchors(), now());
    assert!(garbage.is_err());
    let empty = crate::fido::chain_to_anchors(&chain, &TrustAnchors::empty(), now());
    assert!(empty.unwrap_err().contains("no attestation trust anchors"));
}
