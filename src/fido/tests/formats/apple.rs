//! The `apple` format: the anonymization CA chain and the nonce extension.

use super::*;

fn apple_nonce_extension(nonce: &[u8]) -> CustomExtension {
    let content = seq(&[explicit(1, &tlv(0x04, nonce))]);
    CustomExtension::from_oid_content(&[1, 2, 840, 113635, 100, 8, 2], content)
}

/// An apple registration whose leaf carries `nonce` (the right one when `None`).
pub(super) fn apple(nonce: Option<Vec<u8>>, other_key: bool) -> (Reg, Issued) {
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
