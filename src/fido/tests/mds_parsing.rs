//! FIDO metadata through the public API of `mds.rs`: CRL files in PEM and DER and the signer
//! chains they revoke, certification levels as BLOBs, the config and the API write them, AAGUID
//! text, staleness at `nextUpdate`, unsigned metadata and stored attestation objects' `x5c`.

use der::asn1::{BitString, ObjectIdentifier};
use der::{Decode, Encode};
use rcgen::SerialNumber;
use serde_json::json;
use x509_cert::crl::CertificateList;

use super::{ca_params, issue, leaf_params, now, self_signed, Att, Issued, Pki, Reg};
use crate::fido::mds::{
    self, parse_aaguid, parse_payload, verify_signer_chain, CertificationLevel, Crl, MdsError,
};
use crate::fido::TrustAnchors;

const SIGNER_SERIAL: [u8; 3] = [0x0a, 0xbc, 0xde];

/// root → intermediate → BLOB signer, valid 2024–2030.
struct MdsPki {
    root: Issued,
    intermediate: Issued,
    signer: Issued,
}

impl MdsPki {
    fn new() -> Self {
        let root = self_signed(ca_params("MDS Test Root", None));
        let intermediate = issue(ca_params("MDS Test Intermediate", Some(0)), &root);
        let mut params = leaf_params(None);
        params.serial_number = Some(SerialNumber::from(SIGNER_SERIAL.to_vec()));
        let signer = issue(params, &intermediate);
        Self {
            root,
            intermediate,
            signer,
        }
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_pem(&self.root.pem()).unwrap()
    }

    /// The signer's `x5c`: signer, intermediate.
    fn x5c(&self) -> Vec<Vec<u8>> {
        vec![self.signer.der(), self.intermediate.der()]
    }

    fn check(&self, crls: &[Crl]) -> Result<(), MdsError> {
        verify_signer_chain(&self.x5c(), &self.anchors(), crls, now())
    }
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_pem_crl_file_holding_the_crls_of_root_and_intermediate_revokes_the_signer_it_lists() {
    let pki = MdsPki::new();
    assert!(pki.check(&[]).is_ok());
    let dir = tempfile::tempdir().unwrap();
    // The root's CRL first, revoking something else; the intermediate's, revoking the signer,
    // second: both blocks of the file count.
    let pem = format!(
        "{}{}",
        pki.root.crl(&[&[0x01, 0x02]]).pem().unwrap(),
        pki.intermediate.crl(&[&SIGNER_SERIAL]).pem().unwrap()
    );
    let crls = Crl::from_file(&write(&dir, "mds.crl.pem", pem.as_bytes())).unwrap();
    assert_eq!(crls.len(), 2);
    let error = pki.check(&crls).unwrap_err();
    assert!(
        matches!(&error, MdsError::Revoked(m) if m.contains("certificate 1")),
        "{error}"
    );
}

#[test]
fn a_der_crl_file_revokes_the_signer_it_lists() {
    let pki = MdsPki::new();
    let dir = tempfile::tempdir().unwrap();
    let der = pki.intermediate.crl(&[&SIGNER_SERIAL]).der().to_vec();
    let crls = Crl::from_file(&write(&dir, "mds.crl", &der)).unwrap();
    assert_eq!(crls.len(), 1);
    assert!(matches!(pki.check(&crls), Err(MdsError::Revoked(_))));
    // A CRL revoking the intermediate, from the root.
    let der = pki
        .root
        .crl(&[&serial_of(&pki.intermediate)])
        .der()
        .to_vec();
    let crls = Crl::from_bytes(&der).unwrap();
    let error = pki.check(&crls).unwrap_err();
    assert!(
        matches!(&error, MdsError::Revoked(m) if m.contains("certificate 2")),
        "{error}"
    );
}

fn serial_of(issued: &Issued) -> Vec<u8> {
    x509_cert::Certificate::from_der(&issued.der())
        .unwrap()
        .tbs_certificate
        .serial_number
        .as_bytes()
        .to_vec()
}

#[test]
fn a_crl_file_that_cannot_be_read_or_parsed_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.crl");
    let error = Crl::from_file(&missing).unwrap_err();
    assert!(error.contains("missing.crl"), "{error}");
    let junk = write(&dir, "junk.crl", b"\x30\x82\xff\xff not a CRL");
    let error = Crl::from_file(&junk).unwrap_err();
    assert!(
        error.contains("junk.crl") && error.contains("not a DER X.509 CRL"),
        "{error}"
    );
    let text = write(&dir, "text.crl", b"a note, neither PEM nor DER");
    assert!(Crl::from_file(&text).is_err());
}

#[test]
fn an_empty_or_truncated_pem_crl_block_is_refused_as_invalid() {
    for text in [
        "-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n",
        "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n",
        "-----BEGIN X509 CRL-----\nMIIB\n",
        "-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n",
    ] {
        assert!(
            matches!(
                Crl::from_bytes(text.as_bytes()),
                Err(MdsError::InvalidCrl(_))
            ),
            "{text}"
        );
    }
}

/// DER whose every byte is ASCII (a v2 list: short lengths, a short OID, an empty issuer name)
/// is valid UTF-8 but holds no PEM block: it is still DER.
#[test]
fn a_der_crl_whose_bytes_happen_to_be_text_is_read_as_der() {
    let algorithm: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2a, 0x03, 0x04];
    let mut tbs = vec![0x02, 0x01, 0x01];
    tbs.extend_from_slice(algorithm);
    tbs.extend_from_slice(&[0x30, 0x00]);
    tbs.extend_from_slice(&[0x17, 0x0d]);
    tbs.extend_from_slice(b"250101000000Z");
    let mut body = vec![0x30, tbs.len() as u8];
    body.extend_from_slice(&tbs);
    body.extend_from_slice(algorithm);
    body.extend_from_slice(&[0x03, 0x01, 0x00]);
    let mut der = vec![0x30, body.len() as u8];
    der.extend_from_slice(&body);
    assert!(std::str::from_utf8(&der).is_ok());
    let crls = Crl::from_bytes(&der).unwrap();
    assert_eq!(crls.len(), 1);
}

#[test]
fn a_crl_is_shown_by_its_issuer() {
    let pki = MdsPki::new();
    let crls = Crl::from_bytes(pki.intermediate.crl(&[]).der()).unwrap();
    let shown = format!("{:?}", crls[0]);
    assert!(
        shown.starts_with("Crl(") && shown.contains("MDS Test Intermediate"),
        "{shown}"
    );
}

/// RFC 5280 §5.1.1.2: the algorithm inside the signed list must be the one outside it. Here the
/// list claims ES384 inside while its (valid) signature is ES256 by the real issuer.
#[test]
fn a_crl_whose_signed_algorithm_differs_from_its_outer_one_is_refused() {
    let pki = MdsPki::new();
    let mut list = CertificateList::from_der(pki.intermediate.crl(&[]).der().as_ref()).unwrap();
    list.tbs_cert_list.signature.oid = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
    let tbs = list.tbs_cert_list.to_der().unwrap();
    let signature = pki.intermediate.signer().sign(&tbs);
    list.signature = BitString::from_bytes(&signature).unwrap();
    let crl = Crl::from_der(&list.to_der().unwrap()).unwrap();
    let error = pki.check(&[crl]).unwrap_err();
    assert!(matches!(error, MdsError::InvalidCrl(_)), "{error}");

    // The same list re-signed with its algorithms agreeing is accepted.
    list.tbs_cert_list.signature = list.signature_algorithm.clone();
    let tbs = list.tbs_cert_list.to_der().unwrap();
    list.signature = BitString::from_bytes(&pki.intermediate.signer().sign(&tbs)).unwrap();
    let crl = Crl::from_der(&list.to_der().unwrap()).unwrap();
    assert!(pki.check(&[crl]).is_ok());
}

#[test]
fn a_signer_chain_to_an_unknown_root_or_malformed_is_refused() {
    let pki = MdsPki::new();
    let other = self_signed(ca_params("Somebody else's root", None));
    let others = TrustAnchors::from_pem(&other.pem()).unwrap();
    let error = verify_signer_chain(&pki.x5c(), &others, &[], now()).unwrap_err();
    assert!(matches!(error, MdsError::Untrusted(_)), "{error}");
    let error = verify_signer_chain(&[b"not a certificate".to_vec()], &pki.anchors(), &[], now())
        .unwrap_err();
    assert!(matches!(error, MdsError::Malformed(_)), "{error}");
    let expired = "2031-01-01T00:00:00Z".parse().unwrap();
    assert!(verify_signer_chain(&pki.x5c(), &pki.anchors(), &[], expired).is_err());
}

/// Every certification level: named by a BLOB status report, parsed to that level, shown by its
/// name, and read back from the name the config and the API write.
#[test]
fn each_certified_status_report_gives_its_level_shown_and_parsed_by_name() {
    let levels = [
        ("FIDO_CERTIFIED_L1", CertificationLevel::L1, "L1"),
        ("FIDO_CERTIFIED_L1plus", CertificationLevel::L1Plus, "L1+"),
        ("FIDO_CERTIFIED_L2", CertificationLevel::L2, "L2"),
        ("FIDO_CERTIFIED_L2plus", CertificationLevel::L2Plus, "L2+"),
        ("FIDO_CERTIFIED_L3", CertificationLevel::L3, "L3"),
        ("FIDO_CERTIFIED_L3plus", CertificationLevel::L3Plus, "L3+"),
    ];
    let entries: Vec<_> = levels
        .iter()
        .enumerate()
        .map(|(i, (status, _, _))| {
            json!({
                "aaguid": format!("00000000-0000-0000-0000-0000000000{i:02x}"),
                "statusReports": [
                    {"status": "NOT_FIDO_CERTIFIED"},
                    {"status": status, "effectiveDate": "2024-01-01"},
                ],
            })
        })
        .collect();
    let payload = json!({"no": 1, "nextUpdate": "2025-07-01", "entries": entries});
    let blob = parse_payload(payload.to_string().as_bytes()).unwrap();
    assert_eq!(blob.entries.len(), levels.len());
    for (entry, (status, level, name)) in blob.entries.iter().zip(levels) {
        assert_eq!(entry.certification_level, Some(level), "{status}");
        assert_eq!(level.to_string(), name);
        assert_eq!(level.as_str(), name);
        assert_eq!(CertificationLevel::parse(name), Some(level));
        assert_eq!(serde_json::to_value(level).unwrap(), json!(name));
        let written: CertificationLevel = serde_json::from_value(json!(name)).unwrap();
        assert_eq!(CertificationLevel::parse(&written.to_string()), Some(level));
    }
    for not_a_level in ["", "l1", "L1 ", "L4", "FIDO_CERTIFIED_L1"] {
        assert_eq!(
            CertificationLevel::parse(not_a_level),
            None,
            "{not_a_level}"
        );
    }
}

#[test]
fn a_blob_is_stale_only_after_the_day_of_its_next_update() {
    let payload = json!({"no": 3, "nextUpdate": "2025-07-01", "entries": []});
    let blob = parse_payload(payload.to_string().as_bytes()).unwrap();
    let at = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(!blob.is_stale(at("2025-06-30T23:59:59Z")));
    assert!(!blob.is_stale(at("2025-07-01T00:00:00Z")));
    assert!(!blob.is_stale(at("2025-07-01T23:59:59Z")));
    assert!(blob.is_stale(at("2025-07-02T00:00:00Z")));
}

/// An empty `certificate` names no certificate, so the compromise covers every one.
#[test]
fn an_attestation_key_compromise_with_an_empty_certificate_refuses_every_certificate() {
    let payload = json!({
        "no": 1,
        "nextUpdate": "2025-07-01",
        "entries": [{
            "aaguid": "0132d110-bf4e-4208-a403-ab4f5f12efe5",
            "statusReports": [{"status": "ATTESTATION_KEY_COMPROMISE", "certificate": ""}],
        }],
    });
    let blob = parse_payload(payload.to_string().as_bytes()).unwrap();
    let entry = &blob.entries[0];
    assert_eq!(entry.status_reports[0].certificate, None);
    assert!(entry.refusal(None, Some(b"any attestation cert")).is_some());
}

#[test]
fn aaguids_are_read_in_either_case_and_malformed_ones_refused() {
    let expected = [
        0x01, 0x32, 0xd1, 0x10, 0xbf, 0x4e, 0x42, 0x08, 0xa4, 0x03, 0xab, 0x4f, 0x5f, 0x12, 0xef,
        0xe5,
    ];
    assert_eq!(
        parse_aaguid("0132d110-bf4e-4208-a403-ab4f5f12efe5"),
        Ok(expected)
    );
    assert_eq!(
        parse_aaguid("0132D110-BF4E-4208-A403-AB4F5F12EFE5"),
        Ok(expected)
    );
    for malformed in [
        // 32 hex digits without the dashes.
        "0132d110bf4e4208a403ab4f5f12efe5",
        // 36 hex digits: the length of a UUID, but no dashes.
        "0132d110bf4e4208a403ab4f5f12efe5abcd",
        // A digit short, a digit long.
        "0132d110-bf4e-4208-a403-ab4f5f12efe",
        "0132d110-bf4e-4208-a403-ab4f5f12efe55",
        // A dash in place of a digit.
        "0132d110-bf4e-4208-a403-ab4f5f12ef-5",
        // Not hex.
        "0132d110-bf4e-4208-a403-ab4f5f12efgz",
        "",
    ] {
        let error = parse_aaguid(malformed).unwrap_err();
        assert!(error.contains("is not an AAGUID"), "{malformed}: {error}");
    }
    // A malformed AAGUID makes the BLOB entry unreadable: it is skipped.
    let payload = json!({
        "no": 1,
        "nextUpdate": "2025-07-01",
        "entries": [{"aaguid": "0132d110bf4e4208a403ab4f5f12efe5"}],
    });
    let blob = parse_payload(payload.to_string().as_bytes()).unwrap();
    assert_eq!((blob.entries.len(), blob.skipped), (0, 1));
}

/// A root rollover: the BLOB's `x5c` still carries the previous root (same name, old key) past
/// the intermediate the new root issued. The new root's CRL, which does not verify with the old
/// key, is no reason to refuse: a chain certificate's issuer is the one that signed it.
#[test]
fn a_previous_root_carried_past_the_chain_is_not_taken_for_the_issuer_of_the_new_roots_crl() {
    let old_root = self_signed(ca_params("MDS Rollover Root", None));
    let new_root = self_signed(ca_params("MDS Rollover Root", None));
    let intermediate = issue(ca_params("MDS Rollover Intermediate", Some(0)), &new_root);
    let signer = issue(leaf_params(None), &intermediate);
    let x5c = [signer.der(), intermediate.der(), old_root.der()];
    let anchors = TrustAnchors::from_pem(&new_root.pem()).unwrap();
    let new_crl = Crl::from_bytes(new_root.crl(&[&[0x01]]).der()).unwrap();
    assert!(verify_signer_chain(&x5c, &anchors, &new_crl, now()).is_ok());
    let revoking = Crl::from_bytes(new_root.crl(&[&serial_of(&intermediate)]).der()).unwrap();
    let error = verify_signer_chain(&x5c, &anchors, &revoking, now()).unwrap_err();
    assert!(
        matches!(&error, MdsError::Revoked(m) if m.contains("certificate 2")),
        "{error}"
    );
}

#[test]
fn a_single_unsigned_metadata_statement_or_entry_object_is_read_as_one_entry() {
    let statement = json!({
        "aaguid": "0132d110-bf4e-4208-a403-ab4f5f12efe5",
        "description": "Conformance test key",
    });
    let blob = mds::unsigned_metadata(&statement).unwrap();
    assert_eq!(blob.entries.len(), 1);
    assert_eq!(blob.entries[0].model_name(), Some("Conformance test key"));
    let entry = json!({
        "aaguid": "0132d110-bf4e-4208-a403-ab4f5f12efe5",
        "metadataStatement": {"description": "Certified test key"},
        "statusReports": [{"status": "FIDO_CERTIFIED_L2"}],
    });
    let blob = mds::unsigned_metadata(&entry).unwrap();
    assert_eq!(blob.entries.len(), 1);
    assert_eq!(
        blob.entries[0].certification_level,
        Some(CertificationLevel::L2)
    );
    assert!(mds::unsigned_metadata(&json!("a string")).is_err());
}

#[test]
fn the_x5c_of_a_stored_attestation_object_is_read_leaf_first_and_none_without_one() {
    let pki = Pki::new();
    let object = pki.packed().attestation_object();
    assert_eq!(
        mds::attestation_certificates(&object),
        Some(vec![pki.leaf.der(), pki.intermediate.der()])
    );
    let none = Reg::new().attestation_object();
    assert_eq!(mds::attestation_certificates(&none), None);
    let empty = Reg::with(Att::Packed {
        x5c: vec![],
        signer: pki.leaf.signer(),
    })
    .attestation_object();
    assert_eq!(mds::attestation_certificates(&empty), None);
    assert_eq!(mds::attestation_certificates(b"not CBOR"), None);
}
