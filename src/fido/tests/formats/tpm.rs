//! The `tpm` format: pubArea, certInfo and the AIK certificate.

use super::*;

/// What a test spoils in a TPM statement.
#[derive(Default)]
pub(super) struct TpmSpoil {
    pub(super) extra_data: bool,
    pub(super) other_key_in_pub_area: bool,
    pub(super) magic: bool,
    pub(super) subject: bool,
    pub(super) no_eku: bool,
    pub(super) version_1: bool,
    /// The pubArea's nameAlg (TPM_ALG_SHA256 when `None`) and the hash the name is made with.
    pub(super) name_alg: Option<(u16, &'static ring::digest::Algorithm)>,
    /// The credential's COSE_Key and the key pubArea holds (the Reg's P-256 key when `None`).
    pub(super) credential: Option<(Vec<u8>, TpmKey)>,
    /// A byte after pubArea's last member.
    pub(super) trailing_pub_area: bool,
    /// The AIK's subjectAltName names no TPM version.
    pub(super) san_without_version: bool,
    /// An AAGUID extension in the AIK certificate.
    pub(super) aik_aaguid: Option<[u8; 16]>,
}

/// The key in a pubArea.
#[derive(Clone)]
pub(super) enum TpmKey {
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
        params.custom_extensions.push(aaguid_extension(&aaguid));
    }
    params
}

pub(super) fn tpm(spoil: TpmSpoil) -> Reg {
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
