//! The tpm, android-key, android-safetynet, apple and compound formats with self-made
//! statements and certificates: each verifies when right, and each check refuses what is wrong.

use base64::Engine as _;
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, SanType};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

use super::*;
use crate::fido::{
    verify_registration, verify_registration_observed, AttestationType, CheckOutcome, FormatPolicy,
    RegistrationError, TrustAnchors, VerifiedRegistration,
};

fn verify_with(
    reg: &Reg,
    formats: FormatPolicy,
    anchors: &TrustAnchors,
) -> Result<VerifiedRegistration, RegistrationError> {
    let origins = origins();
    let mut exp = expectations(&origins, anchors);
    exp.formats = formats;
    verify_registration(&reg.json(), &exp)
}

fn verify(reg: &Reg) -> Result<VerifiedRegistration, RegistrationError> {
    verify_with(reg, FormatPolicy::default(), &TrustAnchors::empty())
}

/// The refusal's check name and message.
fn refusal(reg: &Reg) -> (&'static str, String) {
    let e = verify(reg).expect_err("must be refused");
    (e.check(), e.to_string())
}

// --- DER by hand -------------------------------------------------------------------------

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// `[number] EXPLICIT content`, high tag numbers included.
fn explicit(number: u32, content: &[u8]) -> Vec<u8> {
    let mut out = if number < 31 {
        vec![0xa0 | number as u8]
    } else {
        let mut digits = vec![(number & 0x7f) as u8];
        let mut n = number >> 7;
        while n > 0 {
            digits.push(0x80 | (n & 0x7f) as u8);
            n >>= 7;
        }
        digits.reverse();
        let mut out = vec![0xbf];
        out.extend(digits);
        out
    };
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn int_der(v: u8) -> Vec<u8> {
    tlv(0x02, &[v])
}

fn oid_der(oid: &str) -> Vec<u8> {
    let parsed = der::asn1::ObjectIdentifier::new_unwrap(oid);
    tlv(0x06, parsed.as_bytes())
}

fn signed_data(reg: &Reg) -> Vec<u8> {
    let mut signed = reg.auth_data();
    signed.extend_from_slice(&sha256(&reg.client_data()));
    signed
}

/// A registration whose credential key is the key of a fresh rcgen key pair, returned too.
fn reg_with_cert_key(fmt: &str) -> (Reg, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut reg = Reg::with(Att::Raw {
        fmt: fmt.into(),
        stmt: Cbor::Map(vec![]),
    });
    reg.key = Key::from_pkcs8(&key.serialize_der());
    (reg, key)
}

fn leaf_with(key: &rcgen::KeyPair, ext: CustomExtension, ca: &Issued) -> rcgen::Certificate {
    let mut params = leaf_params(None);
    params.custom_extensions.push(ext);
    params.signed_by(key, &ca.cert, &ca.key).unwrap()
}

fn x5c(certs: &[Vec<u8>]) -> Cbor {
    Cbor::Array(certs.iter().map(|c| Cbor::Bytes(c.clone())).collect())
}

// --- apple -------------------------------------------------------------------------------

fn apple_nonce_extension(nonce: &[u8]) -> CustomExtension {
    let content = seq(&[explicit(1, &tlv(0x04, nonce))]);
    CustomExtension::from_oid_content(&[1, 2, 840, 113635, 100, 8, 2], content)
}

/// An apple registration whose leaf carries `nonce` (the right one when `None`).
fn apple(nonce: Option<Vec<u8>>, other_key: bool) -> (Reg, Issued) {
    let ca = self_signed(ca_params("Apple Test CA", None));
    let (mut reg, key) = reg_with_cert_key("apple");
    let nonce = nonce.unwrap_or_else(|| sha256(&signed_data(&reg)));
    let cert_key = if other_key {
        rcgen::KeyPair::generate().unwrap()
    } else {
        key
    };
    let leaf = leaf_with(&cert_key, apple_nonce_extension(&nonce), &ca);
    reg.att = Att::Raw {
        fmt: "apple".into(),
        stmt: Cbor::Map(vec![(text("x5c"), x5c(&[leaf.der().to_vec(), ca.der()]))]),
    };
    (reg, ca)
}

#[test]
fn an_apple_attestation_verifies_as_anonymization_ca_and_chains_to_its_root() {
    let (reg, ca) = apple(None, false);
    let ok = verify(&reg).unwrap();
    assert_eq!(ok.format, "apple");
    assert_eq!(ok.attestation_type, AttestationType::AnonCa);
    assert!(!ok.attestation_trusted);
    let anchors = TrustAnchors::from_pem(&ca.pem()).unwrap();
    let trusted = verify_with(&reg, FormatPolicy::default(), &anchors).unwrap();
    assert!(trusted.attestation_trusted);
}

#[test]
fn an_apple_attestation_with_another_nonce_is_refused() {
    let (reg, _) = apple(Some(vec![9; 32]), false);
    let (check, why) = refusal(&reg);
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("nonce"), "{why}");
}

#[test]
fn an_apple_attestation_for_another_key_is_refused() {
    let (reg, _) = apple(None, true);
    let (check, why) = refusal(&reg);
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("public key"), "{why}");
}

/// The content of an apple nonce extension made from the nonce.
type NonceShape = fn(&[u8]) -> Vec<u8>;

/// An apple registration whose leaf's nonce extension is `shape(nonce)`, the nonce being the
/// right one.
fn apple_nonce_shaped(shape: impl FnOnce(&[u8]) -> Vec<u8>) -> Reg {
    let ca = self_signed(ca_params("Apple Test CA", None));
    let (mut reg, key) = reg_with_cert_key("apple");
    let content = shape(&sha256(&signed_data(&reg)));
    let ext = CustomExtension::from_oid_content(&[1, 2, 840, 113635, 100, 8, 2], content);
    let leaf = leaf_with(&key, ext, &ca);
    reg.att = Att::Raw {
        fmt: "apple".into(),
        stmt: Cbor::Map(vec![(text("x5c"), x5c(&[leaf.der().to_vec(), ca.der()]))]),
    };
    reg
}

#[test]
fn an_apple_nonce_extension_of_any_other_shape_is_refused() {
    let octets = |nonce: &[u8]| tlv(0x04, nonce);
    verify(&apple_nonce_shaped(|n| seq(&[explicit(1, &octets(n))]))).expect("the right shape");
    let shapes: [(&str, NonceShape); 7] = [
        ("trailing bytes after the SEQUENCE", |n| {
            [seq(&[explicit(1, &tlv(0x04, n))]), vec![0x05, 0x00]].concat()
        }),
        ("a SET, not a SEQUENCE", |n| {
            tlv(0x31, &explicit(1, &tlv(0x04, n)))
        }),
        ("an APPLICATION [1], not a context [1]", |n| {
            seq(&[tlv(0x61, &tlv(0x04, n))])
        }),
        ("[2], not [1]", |n| seq(&[explicit(2, &tlv(0x04, n))])),
        ("trailing bytes inside the SEQUENCE", |n| {
            seq(&[explicit(1, &tlv(0x04, n)), vec![0x05, 0x00]])
        }),
        ("trailing bytes inside [1]", |n| {
            seq(&[explicit(1, &[tlv(0x04, n), vec![0x05, 0x00]].concat())])
        }),
        ("a UTF8String, not an OCTET STRING", |n| {
            seq(&[explicit(1, &tlv(0x0c, n))])
        }),
    ];
    for (what, shape) in shapes {
        let err = verify(&apple_nonce_shaped(shape)).expect_err(what);
        assert_eq!(err.check(), "attestationStatement", "{what}: {err}");
        assert!(err.to_string().contains("malformed"), "{what}: {err}");
    }
}

// --- android-key -------------------------------------------------------------------------

struct Lists {
    software: Vec<Vec<u8>>,
    tee: Vec<Vec<u8>>,
}

fn origin_generated() -> Vec<u8> {
    explicit(702, &int_der(0))
}

fn purpose_sign() -> Vec<u8> {
    explicit(1, &tlv(0x31, &int_der(2)))
}

fn all_applications() -> Vec<u8> {
    explicit(600, &tlv(0x05, &[]))
}

/// KeyDescription with security levels as ENUMERATED (or INTEGER when `integer_levels`).
fn key_description(challenge: &[u8], lists: &Lists, integer_levels: bool) -> Vec<u8> {
    let level = if integer_levels {
        int_der(1)
    } else {
        tlv(0x0a, &[1])
    };
    seq(&[
        int_der(3),
        level.clone(),
        int_der(4),
        level,
        tlv(0x04, challenge),
        tlv(0x04, &[]),
        seq(&lists.software),
        seq(&lists.tee),
    ])
}

fn android_key(challenge: Option<Vec<u8>>, lists: Lists) -> Reg {
    let ca = self_signed(ca_params("Android Test CA", None));
    let (mut reg, key) = reg_with_cert_key("android-key");
    let challenge = challenge.unwrap_or_else(|| sha256(&reg.client_data()));
    let ext = CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17],
        key_description(&challenge, &lists, true),
    );
    let leaf = leaf_with(&key, ext, &ca);
    let sig = reg.key.sign(&signed_data(&reg));
    reg.att = Att::Raw {
        fmt: "android-key".into(),
        stmt: Cbor::Map(vec![
            (text("alg"), int(-7)),
            (text("sig"), Cbor::Bytes(sig)),
            (text("x5c"), x5c(&[leaf.der().to_vec(), ca.der()])),
        ]),
    };
    reg
}

fn tee_lists() -> Lists {
    Lists {
        software: vec![],
        tee: vec![purpose_sign(), origin_generated()],
    }
}

#[test]
fn an_android_key_attestation_verifies_with_integer_security_levels() {
    let ok = verify(&android_key(None, tee_lists())).unwrap();
    assert_eq!(ok.format, "android-key");
    assert_eq!(ok.attestation_type, AttestationType::Basic);
}

#[test]
fn the_key_description_reader_accepts_enumerated_security_levels_too() {
    let der = key_description(&[1; 32], &tee_lists(), false);
    let parsed = crate::fido::attestation::android_key::KeyDescription::parse(&der).unwrap();
    assert_eq!(parsed.challenge, vec![1; 32]);
    assert_eq!(parsed.tee.purposes, vec![2]);
    assert_eq!(parsed.tee.origin, Some(0));
}

/// A KeyDescription with these version and security level TLVs and the usual lists.
fn key_description_with(version: Vec<u8>, att_level: Vec<u8>, km_level: Vec<u8>) -> Vec<u8> {
    let lists = tee_lists();
    seq(&[
        version,
        att_level,
        int_der(4),
        km_level,
        tlv(0x04, &[1; 32]),
        tlv(0x04, &[]),
        seq(&lists.software),
        seq(&lists.tee),
    ])
}

fn key_description_refusal(der: &[u8]) -> String {
    crate::fido::attestation::android_key::KeyDescription::parse(der).expect_err("must be refused")
}

#[test]
fn a_key_description_with_trailing_bytes_or_that_is_not_a_sequence_is_refused() {
    let good = key_description(&[1; 32], &tee_lists(), false);
    crate::fido::attestation::android_key::KeyDescription::parse(&good).expect("well formed");
    let mut trailing = good.clone();
    trailing.extend([0x05, 0x00]);
    assert!(key_description_refusal(&trailing).contains("expected shape"));
    let mut set = good;
    set[0] = 0x31;
    assert!(key_description_refusal(&set).contains("expected shape"));
}

#[test]
fn a_key_description_whose_version_or_either_security_level_has_the_wrong_type_is_refused() {
    let version = || int_der(3);
    let level = || tlv(0x0a, &[1]);
    let octets = || tlv(0x04, &[1]);
    crate::fido::attestation::android_key::KeyDescription::parse(&key_description_with(
        version(),
        level(),
        level(),
    ))
    .expect("well formed");
    for (what, der) in [
        (
            "an ENUMERATED version",
            key_description_with(tlv(0x0a, &[3]), level(), level()),
        ),
        (
            "an OCTET STRING attestationSecurityLevel",
            key_description_with(version(), octets(), level()),
        ),
        (
            "an OCTET STRING keymasterSecurityLevel",
            key_description_with(version(), level(), octets()),
        ),
    ] {
        assert!(
            key_description_refusal(&der).contains("expected shape"),
            "{what}"
        );
    }
}

#[test]
fn an_authorization_list_member_that_is_not_a_constructed_context_tag_is_refused() {
    let with_member = |member: Vec<u8>| {
        let mut lists = tee_lists();
        lists.tee.push(member);
        key_description(&[1; 32], &lists, false)
    };
    let unknown_member = with_member(explicit(5, &int_der(0)));
    let parsed = crate::fido::attestation::android_key::KeyDescription::parse(&unknown_member)
        .expect("an unknown [5] member is skipped");
    assert_eq!(parsed.tee.purposes, vec![2]);
    for (what, member) in [
        ("a universal SEQUENCE", seq(&[int_der(0)])),
        ("a primitive [5]", tlv(0x85, &[0])),
    ] {
        assert!(
            key_description_refusal(&with_member(member)).contains("expected shape"),
            "{what}"
        );
    }
}

#[test]
fn an_android_key_attestation_with_another_challenge_is_refused() {
    let (check, why) = refusal(&android_key(Some(vec![3; 32]), tee_lists()));
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("attestationChallenge"), "{why}");
}

#[test]
fn an_android_key_bound_to_all_applications_is_refused() {
    let mut lists = tee_lists();
    lists.software.push(all_applications());
    let (check, why) = refusal(&android_key(None, lists));
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("allApplications"), "{why}");
}

#[test]
fn empty_authorization_lists_are_refused() {
    let lists = Lists {
        software: vec![],
        tee: vec![],
    };
    let (_, why) = refusal(&android_key(None, lists));
    assert!(why.contains("KM_ORIGIN_GENERATED"), "{why}");
}

#[test]
fn software_enforced_authorizations_count_only_when_the_policy_allows_them() {
    let lists = || Lists {
        software: vec![purpose_sign(), origin_generated()],
        tee: vec![],
    };
    verify(&android_key(None, lists())).expect("allowed by default");
    let strict = FormatPolicy {
        android_key_allow_software_enforced: false,
        ..FormatPolicy::default()
    };
    let err = verify_with(&android_key(None, lists()), strict, &TrustAnchors::empty())
        .expect_err("teeEnforced only");
    assert!(err.to_string().contains("teeEnforced"), "{err}");
}

#[test]
fn an_android_key_attestation_with_an_imported_key_is_refused() {
    let lists = Lists {
        software: vec![],
        tee: vec![purpose_sign(), explicit(702, &int_der(2))],
    };
    let (_, why) = refusal(&android_key(None, lists));
    assert!(why.contains("KM_ORIGIN_GENERATED"), "{why}");
}

// --- tpm ---------------------------------------------------------------------------------

/// What a test spoils in a TPM statement.
#[derive(Default)]
struct TpmSpoil {
    extra_data: bool,
    other_key_in_pub_area: bool,
    magic: bool,
    subject: bool,
    no_eku: bool,
    version_1: bool,
    /// The pubArea's nameAlg (TPM_ALG_SHA256 when `None`) and the hash the name is made with.
    name_alg: Option<(u16, &'static ring::digest::Algorithm)>,
    /// The credential's COSE_Key and the key pubArea holds (the Reg's P-256 key when `None`).
    credential: Option<(Vec<u8>, TpmKey)>,
    /// A byte after pubArea's last member.
    trailing_pub_area: bool,
    /// The AIK's subjectAltName names no TPM version.
    san_without_version: bool,
    /// An AAGUID extension in the AIK certificate.
    aik_aaguid: Option<[u8; 16]>,
}

/// The key in a pubArea.
#[derive(Clone)]
enum TpmKey {
    /// TPM_ECC_CURVE and the uncompressed point.
    Ecc(u16, Vec<u8>),
    /// The modulus and the exponent as the TPM writes them (0 for 65537).
    Rsa(Vec<u8>, u32),
}

fn pub_area(key: &TpmKey, name_alg: u16) -> Vec<u8> {
    let kind: u16 = match key {
        TpmKey::Ecc(..) => 0x0023, // TPM_ALG_ECC
        TpmKey::Rsa(..) => 0x0001, // TPM_ALG_RSA
    };
    let mut out = Vec::new();
    out.extend(kind.to_be_bytes());
    out.extend(name_alg.to_be_bytes());
    out.extend(0x0006_0472u32.to_be_bytes()); // objectAttributes
    out.extend(0u16.to_be_bytes()); // authPolicy (empty)
    out.extend(0x0010u16.to_be_bytes()); // symmetric NULL
    out.extend(0x0010u16.to_be_bytes()); // scheme NULL
    match key {
        TpmKey::Ecc(curve, point) => {
            out.extend(curve.to_be_bytes());
            out.extend(0x0010u16.to_be_bytes()); // kdf NULL
            let size = (point.len() - 1) / 2;
            for coordinate in [&point[1..1 + size], &point[1 + size..]] {
                out.extend((coordinate.len() as u16).to_be_bytes());
                out.extend_from_slice(coordinate);
            }
        }
        TpmKey::Rsa(modulus, exponent) => {
            out.extend(2048u16.to_be_bytes()); // keyBits
            out.extend(exponent.to_be_bytes());
            out.extend((modulus.len() as u16).to_be_bytes());
            out.extend_from_slice(modulus);
        }
    }
    out
}

fn cert_info(extra_data: &[u8], name: &[u8], magic: u32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(magic.to_be_bytes());
    out.extend(0x8017u16.to_be_bytes());
    out.extend(2u16.to_be_bytes());
    out.extend([0x00, 0x0b]); // qualifiedSigner
    out.extend((extra_data.len() as u16).to_be_bytes());
    out.extend_from_slice(extra_data);
    out.extend([0; 16]); // clock, resetCount, restartCount
    out.push(0x33); // safe: not a TPMI_YES_NO, as in the W3C vector
    out.extend([0; 8]); // firmwareVersion
    out.extend((name.len() as u16).to_be_bytes());
    out.extend_from_slice(name);
    out.extend(0u16.to_be_bytes()); // qualifiedName
    out
}

/// subjectAltName with a directoryName naming the TPM manufacturer, model and (unless
/// `without_version`) version.
fn tpm_san(without_version: bool) -> CustomExtension {
    let attr =
        |oid: &str, value: &str| tlv(0x31, &seq(&[oid_der(oid), tlv(0x0c, value.as_bytes())]));
    let mut attrs = vec![
        attr("2.23.133.2.1", "id:FFFFF1D0"),
        attr("2.23.133.2.2", "FIDO Fake TPM"),
    ];
    if !without_version {
        attrs.push(attr("2.23.133.2.3", "id:F1D00002"));
    }
    let name = seq(&attrs);
    let mut ext = CustomExtension::from_oid_content(&[2, 5, 29, 17], seq(&[explicit(4, &name)]));
    ext.set_criticality(true);
    ext
}

fn aik_params(spoil: &TpmSpoil) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    if spoil.subject {
        params
            .distinguished_name
            .push(DnType::CommonName, "Not empty");
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    if !spoil.no_eku {
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::Other(vec![
            2, 23, 133, 8, 3,
        ])];
    }
    params
        .custom_extensions
        .push(tpm_san(spoil.san_without_version));
    if let Some(aaguid) = spoil.aik_aaguid {
        let content = tlv(0x04, &aaguid);
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4],
                content,
            ));
    }
    params
}

fn tpm(spoil: TpmSpoil) -> Reg {
    let ca = self_signed(ca_params("TPM Test CA", None));
    let aik = issue(aik_params(&spoil), &ca);
    let mut reg = Reg::with(Att::None);
    let key = match spoil.credential {
        Some((cose, key)) => {
            reg.cose_key = Some(cose);
            key
        }
        None if spoil.other_key_in_pub_area => {
            TpmKey::Ecc(0x0003, Key::generate().point().to_vec())
        }
        None => TpmKey::Ecc(0x0003, reg.key.point().to_vec()),
    };
    let (name_alg, name_hash) = spoil.name_alg.unwrap_or((0x000b, &ring::digest::SHA256));
    let mut area = pub_area(&key, name_alg);
    if spoil.trailing_pub_area {
        area.push(0);
    }
    let mut name = name_alg.to_be_bytes().to_vec();
    name.extend(ring::digest::digest(name_hash, &area).as_ref());
    let mut extra = sha256(&signed_data(&reg));
    if spoil.extra_data {
        extra[0] ^= 1;
    }
    let magic = if spoil.magic {
        0xff54_4348
    } else {
        0xff54_4347
    };
    let info = cert_info(&extra, &name, magic);
    let sig = aik.signer().sign(&info);
    reg.att = Att::Raw {
        fmt: "tpm".into(),
        stmt: Cbor::Map(vec![
            (
                text("ver"),
                text(if spoil.version_1 { "1.0" } else { "2.0" }),
            ),
            (text("alg"), int(-7)),
            (text("x5c"), x5c(&[aik.der(), ca.der()])),
            (text("sig"), Cbor::Bytes(sig)),
            (text("certInfo"), Cbor::Bytes(info)),
            (text("pubArea"), Cbor::Bytes(area)),
        ]),
    };
    reg
}

#[test]
fn a_tpm_attestation_verifies_as_attestation_ca() {
    let ok = verify(&tpm(TpmSpoil::default())).unwrap();
    assert_eq!(ok.format, "tpm");
    assert_eq!(ok.attestation_type, AttestationType::AttCa);
}

#[test]
fn a_tpm_statement_of_a_version_other_than_2_0_is_refused() {
    let (check, why) = refusal(&tpm(TpmSpoil {
        version_1: true,
        ..TpmSpoil::default()
    }));
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("\"ver\" is not \"2.0\""), "{why}");
}

#[test]
fn a_tpm_pub_area_named_with_sha1_sha384_or_sha512_verifies_and_with_sm3_is_refused() {
    for name_alg in [
        (0x0004, &ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
        (0x000c, &ring::digest::SHA384),
        (0x000d, &ring::digest::SHA512),
    ] {
        verify(&tpm(TpmSpoil {
            name_alg: Some(name_alg),
            ..TpmSpoil::default()
        }))
        .unwrap_or_else(|e| panic!("nameAlg {:#06x}: {e}", name_alg.0));
    }
    let (_, why) = refusal(&tpm(TpmSpoil {
        name_alg: Some((0x0012, &ring::digest::SHA256)),
        ..TpmSpoil::default()
    }));
    assert!(why.contains("nameAlg is not a supported hash"), "{why}");
}

/// An RSA credential key of any 2048-bit modulus (it signs nothing in a TPM registration) and
/// exponent 65537, the usual one.
fn rsa_credential(modulus: &[u8]) -> Vec<u8> {
    cbor(&Cbor::Map(vec![
        (int(1), int(3)),
        (int(3), int(-257)),
        (int(-1), Cbor::Bytes(modulus.to_vec())),
        (int(-2), Cbor::Bytes(vec![1, 0, 1])),
    ]))
}

fn tpm_of(cose: Vec<u8>, key: TpmKey) -> Reg {
    tpm(TpmSpoil {
        credential: Some((cose, key)),
        ..TpmSpoil::default()
    })
}

#[test]
fn a_tpm_attestation_of_an_rsa_key_verifies_whichever_way_pub_area_writes_it() {
    let n = vec![0xc3; 256];
    let with_zero = [vec![0], n.clone()].concat();
    for (what, key) in [
        ("exponent 0 for 65537", TpmKey::Rsa(n.clone(), 0)),
        ("exponent 65537", TpmKey::Rsa(n.clone(), 65537)),
        ("a leading zero byte", TpmKey::Rsa(with_zero, 0)),
    ] {
        verify(&tpm_of(rsa_credential(&n), key)).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

#[test]
fn a_tpm_pub_area_rsa_key_with_another_modulus_or_exponent_is_refused() {
    let n = vec![0xc3; 256];
    for (what, key) in [
        ("another modulus", TpmKey::Rsa(vec![0xc5; 256], 0)),
        ("exponent 3", TpmKey::Rsa(n.clone(), 3)),
    ] {
        let (_, why) = refusal(&tpm_of(rsa_credential(&n), key));
        assert!(why.contains("pubArea key"), "{what}: {why}");
    }
}

#[test]
fn a_tpm_attestation_of_a_p384_or_p521_key_verifies() {
    let rng = ring::rand::SystemRandom::new();
    let p384 = &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(p384, &rng).unwrap();
    let p384 = EcdsaKeyPair::from_pkcs8(p384, pkcs8.as_ref(), &rng).unwrap();
    let point = ring::signature::KeyPair::public_key(&p384)
        .as_ref()
        .to_vec();
    verify(&tpm_of(
        ec2_cose_key(-35, 2, &point),
        TpmKey::Ecc(0x0004, point.clone()),
    ))
    .expect("P-384");
    let p521 = p521::ecdsa::SigningKey::from_slice(&[1; 66]).unwrap();
    let point = p521::ecdsa::VerifyingKey::from(&p521)
        .to_encoded_point(false)
        .as_bytes()
        .to_vec();
    verify(&tpm_of(
        ec2_cose_key(-36, 3, &point),
        TpmKey::Ecc(0x0005, point.clone()),
    ))
    .expect("P-521");
}

#[test]
fn a_tpm_pub_area_naming_another_curve_for_the_credential_point_is_refused() {
    let reg = Reg::new();
    let point = reg.key.point().to_vec();
    let cose = reg.cose_key();
    let (_, why) = refusal(&tpm_of(cose, TpmKey::Ecc(0x0004, point)));
    assert!(why.contains("pubArea key"), "{why}");
}

#[test]
fn a_tpm_pub_area_with_bytes_after_its_last_member_is_refused() {
    let (check, why) = refusal(&tpm(TpmSpoil {
        trailing_pub_area: true,
        ..TpmSpoil::default()
    }));
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("bytes after its last member"), "{why}");
}

#[test]
fn an_aik_certificate_whose_subject_alt_name_names_no_tpm_version_is_refused() {
    let (check, why) = refusal(&tpm(TpmSpoil {
        san_without_version: true,
        ..TpmSpoil::default()
    }));
    assert_eq!(check, "attestationCertificate");
    assert!(why.contains("manufacturer, model and version"), "{why}");
}

#[test]
fn an_aik_certificate_aaguid_extension_must_be_the_authenticators_aaguid() {
    verify(&tpm(TpmSpoil {
        aik_aaguid: Some(AAGUID),
        ..TpmSpoil::default()
    }))
    .expect("the same AAGUID");
    let (check, why) = refusal(&tpm(TpmSpoil {
        aik_aaguid: Some([0x22; 16]),
        ..TpmSpoil::default()
    }));
    assert_eq!(check, "attestationCertificate");
    assert!(why.contains("AAGUID"), "{why}");
}

#[test]
fn a_tpm_attestation_with_the_wrong_extra_data_is_refused() {
    let (check, why) = refusal(&tpm(TpmSpoil {
        extra_data: true,
        ..TpmSpoil::default()
    }));
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("extraData"), "{why}");
}

#[test]
fn a_tpm_attestation_whose_pub_area_holds_another_key_is_refused() {
    let (check, why) = refusal(&tpm(TpmSpoil {
        other_key_in_pub_area: true,
        ..TpmSpoil::default()
    }));
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("pubArea key"), "{why}");
}

#[test]
fn a_tpm_attestation_without_the_tpm_magic_is_refused() {
    let (_, why) = refusal(&tpm(TpmSpoil {
        magic: true,
        ..TpmSpoil::default()
    }));
    assert!(why.contains("magic"), "{why}");
}

#[test]
fn an_aik_certificate_with_a_subject_or_without_the_aik_purpose_is_refused() {
    let (check, why) = refusal(&tpm(TpmSpoil {
        subject: true,
        ..TpmSpoil::default()
    }));
    assert_eq!(check, "attestationCertificate");
    assert!(why.contains("subject"), "{why}");
    let (check, why) = refusal(&tpm(TpmSpoil {
        no_eku: true,
        ..TpmSpoil::default()
    }));
    assert_eq!(check, "attestationCertificate");
    assert!(why.contains("extendedKeyUsage"), "{why}");
}

// --- android-safetynet -------------------------------------------------------------------

struct SafetyNet {
    /// The leaf's subjectAltName dNSName.
    hostname: &'static str,
    /// The leaf's subject CN.
    common_name: &'static str,
    ver: &'static str,
    nonce: Option<String>,
    timestamp_ms: i64,
    cts: bool,
}

impl SafetyNet {
    fn good() -> Self {
        Self {
            hostname: "attest.android.com",
            common_name: "attest.android.com",
            ver: "201813046",
            nonce: None,
            timestamp_ms: now().timestamp_millis() - 5_000,
            cts: true,
        }
    }

    fn reg(&self) -> Reg {
        let ca = self_signed(ca_params("SafetyNet Test CA", None));
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name);
        params.subject_alt_names = vec![SanType::DnsName(self.hostname.try_into().unwrap())];
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let leaf = issue(params, &ca);
        let mut reg = Reg::with(Att::None);
        let std = base64::engine::general_purpose::STANDARD;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let nonce = self
            .nonce
            .clone()
            .unwrap_or_else(|| std.encode(sha256(&signed_data(&reg))));
        let header = json!({"alg": "ES256", "x5c": [std.encode(leaf.der()), std.encode(ca.der())]});
        let payload = json!({
            "nonce": nonce,
            "timestampMs": self.timestamp_ms,
            "ctsProfileMatch": self.cts,
            "basicIntegrity": true,
            "apkPackageName": "com.google.android.gms",
        });
        let signing_input = format!(
            "{}.{}",
            url.encode(header.to_string()),
            url.encode(payload.to_string())
        );
        let rng = ring::rand::SystemRandom::new();
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &leaf.key.serialize_der(),
            &rng,
        )
        .unwrap();
        let sig = signer.sign(&rng, signing_input.as_bytes()).unwrap();
        let jws = format!("{signing_input}.{}", url.encode(sig.as_ref()));
        reg.att = Att::Raw {
            fmt: "android-safetynet".into(),
            stmt: Cbor::Map(vec![
                (text("ver"), text(self.ver)),
                (text("response"), Cbor::Bytes(jws.into_bytes())),
            ]),
        };
        reg
    }
}

#[test]
fn a_safetynet_attestation_verifies() {
    let ok = verify(&SafetyNet::good().reg()).unwrap();
    assert_eq!(ok.format, "android-safetynet");
    assert_eq!(ok.attestation_type, AttestationType::Basic);
}

#[test]
fn a_safetynet_attestation_with_another_nonce_is_refused() {
    let sn = SafetyNet {
        nonce: Some("bm90IHRoZSBub25jZQ==".into()),
        ..SafetyNet::good()
    };
    let (check, why) = refusal(&sn.reg());
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("nonce"), "{why}");
}

#[test]
fn a_safetynet_certificate_for_another_host_is_refused() {
    let sn = SafetyNet {
        hostname: "attest.example.com",
        common_name: "attest.example.com",
        ..SafetyNet::good()
    };
    let (check, why) = refusal(&sn.reg());
    assert_eq!(check, "attestationCertificate");
    assert!(why.contains("attest.android.com"), "{why}");
}

#[test]
fn a_safetynet_certificate_naming_the_host_in_its_subject_alt_name_alone_is_accepted() {
    let sn = SafetyNet {
        common_name: "Some Other Name",
        ..SafetyNet::good()
    };
    verify(&sn.reg()).expect("the dNSName names attest.android.com");
}

#[test]
fn a_safetynet_statement_with_an_empty_ver_is_refused() {
    let sn = SafetyNet {
        ver: "",
        ..SafetyNet::good()
    };
    let (check, why) = refusal(&sn.reg());
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("non-empty \"ver\""), "{why}");
}

#[test]
fn a_safetynet_timestamp_exactly_60_s_off_is_accepted_and_a_millisecond_more_is_not() {
    for off in [-60_000, 60_000] {
        let sn = SafetyNet {
            timestamp_ms: now().timestamp_millis() + off,
            ..SafetyNet::good()
        };
        verify(&sn.reg()).unwrap_or_else(|e| panic!("{off} ms off: {e}"));
    }
    let sn = SafetyNet {
        timestamp_ms: now().timestamp_millis() - 60_001,
        ..SafetyNet::good()
    };
    let (_, why) = refusal(&sn.reg());
    assert!(why.contains("timestampMs"), "{why}");
}

#[test]
fn a_stale_safetynet_timestamp_is_refused_unless_the_policy_skips_it() {
    let sn = SafetyNet {
        timestamp_ms: now().timestamp_millis() - 120_000,
        ..SafetyNet::good()
    };
    let reg = sn.reg();
    let (check, why) = refusal(&reg);
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("timestampMs"), "{why}");
    let lenient = FormatPolicy {
        safetynet_check_timestamp: false,
        ..FormatPolicy::default()
    };
    verify_with(&reg, lenient, &TrustAnchors::empty()).expect("timestamp not checked");
}

#[test]
fn a_safetynet_attestation_without_cts_profile_match_is_refused_unless_the_policy_allows_it() {
    let sn = SafetyNet {
        cts: false,
        ..SafetyNet::good()
    };
    let reg = sn.reg();
    let (_, why) = refusal(&reg);
    assert!(why.contains("ctsProfileMatch"), "{why}");
    let lenient = FormatPolicy {
        safetynet_require_cts_profile_match: false,
        ..FormatPolicy::default()
    };
    verify_with(&reg, lenient, &TrustAnchors::empty()).expect("cts not required");
}

// --- compound ----------------------------------------------------------------------------

fn compound_of(reg: &mut Reg, items: Vec<Cbor>) {
    reg.att = Att::Raw {
        fmt: "compound".into(),
        stmt: Cbor::Array(items),
    };
}

fn self_statement(reg: &Reg, tamper: bool) -> Cbor {
    let mut sig = reg.key.sign(&signed_data(reg));
    if tamper {
        sig[10] ^= 1;
    }
    Cbor::Map(vec![
        (text("fmt"), text("packed")),
        (
            text("attStmt"),
            Cbor::Map(vec![
                (text("alg"), int(-7)),
                (text("sig"), Cbor::Bytes(sig)),
            ]),
        ),
    ])
}

#[test]
fn a_compound_attestation_verifies_when_every_statement_does() {
    let mut reg = Reg::new();
    let items = vec![
        self_statement(&reg, false),
        Cbor::Map(vec![
            (text("fmt"), text("none")),
            (text("attStmt"), Cbor::Map(vec![])),
        ]),
    ];
    compound_of(&mut reg, items);
    let ok = verify(&reg).unwrap();
    assert_eq!(ok.format, "compound");
    assert_eq!(ok.attestation_type, AttestationType::Compound);
    assert!(!ok.attestation_trusted);
}

#[test]
fn a_compound_attestation_with_one_bad_statement_is_refused() {
    let mut reg = Reg::new();
    let items = vec![self_statement(&reg, false), self_statement(&reg, true)];
    compound_of(&mut reg, items);
    assert_eq!(refusal(&reg).0, "attestationSignature");
}

#[test]
fn an_empty_or_nested_compound_attestation_is_refused() {
    let mut reg = Reg::new();
    compound_of(&mut reg, vec![]);
    assert_eq!(refusal(&reg).0, "attestationStatement");
    let mut reg = Reg::new();
    let nested = Cbor::Map(vec![
        (text("fmt"), text("compound")),
        (text("attStmt"), Cbor::Array(vec![])),
    ]);
    compound_of(&mut reg, vec![nested]);
    assert_eq!(refusal(&reg).0, "attestationStatement");
}

#[test]
fn a_compound_statement_of_an_unknown_or_compound_format_cannot_be_verified_here() {
    for fmt in ["compound", "unknown-format"] {
        let mut reg = Reg::new();
        let item = Cbor::Map(vec![
            (text("fmt"), text(fmt)),
            (text("attStmt"), Cbor::Map(vec![])),
        ]);
        compound_of(&mut reg, vec![item]);
        let (check, why) = refusal(&reg);
        assert_eq!(check, "attestationStatement", "{fmt}");
        assert!(why.contains("cannot be verified here"), "{fmt}: {why}");
    }
}

/// A stored compound attestation is read again only as registration could have verified it.
#[test]
fn a_stored_compound_statement_of_an_unknown_format_is_not_read_even_with_x5c() {
    let pki = Pki::new();
    let read = |fmt: &str| {
        let item = Cbor::Map(vec![
            (text("fmt"), text(fmt)),
            (
                text("attStmt"),
                Cbor::Map(vec![(text("x5c"), x5c(&[pki.leaf.der()]))]),
            ),
        ]);
        crate::fido::attestation::stored_statements("compound", &Cbor::Array(vec![item]))
    };
    let (kind, statements) = read("packed").expect("a packed x5c statement");
    assert_eq!(kind, AttestationType::Compound);
    assert_eq!(statements[0].kind, AttestationType::Basic);
    assert!(read("unknown-format").is_none());
}

// --- observation -------------------------------------------------------------------------

#[test]
fn an_observed_refusal_reports_the_failed_check_and_those_not_reached() {
    let reg = tpm(TpmSpoil {
        extra_data: true,
        ..TpmSpoil::default()
    });
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let exp = expectations(&origins, &anchors);
    let mut checks = Vec::new();
    verify_registration_observed(&reg.json(), &exp, &mut |c| checks.push(c)).unwrap_err();
    let outcome = |name: &str| {
        checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.outcome)
            .unwrap_or_else(|| panic!("{name} not reported: {checks:?}"))
    };
    assert_eq!(outcome("challenge"), CheckOutcome::Pass);
    assert_eq!(outcome("tpm.pubArea"), CheckOutcome::Pass);
    assert_eq!(outcome("attestationStatement"), CheckOutcome::Fail);
    assert_eq!(outcome("attestationTrust"), CheckOutcome::Skipped);
    assert_eq!(
        checks
            .iter()
            .filter(|c| c.outcome == CheckOutcome::Fail)
            .count(),
        1
    );
}

// --- judgement of a stored attestation object ----------------------------------------------

/// The stored attestation object of every format is judged again as its verified registration
/// was (android-safetynet from the certificates of its JWS).
#[test]
fn every_format_is_judged_from_its_stored_object_as_at_registration() {
    let (apple_reg, apple_ca) = apple(None, false);
    let apple_anchors = TrustAnchors::from_pem(&apple_ca.pem()).unwrap();
    let none = TrustAnchors::empty();
    for (reg, anchors, trusted) in [
        (apple_reg, &apple_anchors, true),
        (tpm(TpmSpoil::default()), &none, false),
        (android_key(None, tee_lists()), &none, false),
        (SafetyNet::good().reg(), &none, false),
    ] {
        let verified = verify_with(&reg, FormatPolicy::default(), anchors).unwrap();
        let judged = crate::fido::judge(&verified, None, anchors, now());
        assert_eq!(judged.trusted(), trusted, "{}", verified.format);
        assert!(!verified.attestation_statements[0].chain.is_empty());
        let stored = crate::fido::judge_stored(&verified.attestation_object, None, anchors, now());
        assert_eq!(stored, Some(judged), "{}", verified.format);
    }
}
