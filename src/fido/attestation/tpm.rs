//! The `tpm` attestation format (§8.3): a TPMS_ATTEST (`certInfo`) certifying the credential
//! key (`pubArea`), signed by an AIK whose certificate meets §8.3.1.
//!
//! `TPMS_CLOCK_INFO` is read for its length only: §8.3 does not ask to interpret it, and the
//! W3C §16.13 vector carries `safe = 0x33`, which a strict TPMI_YES_NO reader would refuse.

use der::asn1::ObjectIdentifier as Oid;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::Certificate;

use super::{invalid, AttestationType, Statement, Verified};
use crate::fido::cose::{KeyMaterial, CRV_P256, CRV_P384, CRV_P521};
use crate::fido::report::Observer;
use crate::fido::trust::{self, Hash, Scheme};
use crate::fido::{cbor, RegistrationError};

const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_ECC: u16 = 0x0023;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ECC_NIST_P256: u16 = 0x0003;
const TPM_ECC_NIST_P384: u16 = 0x0004;
const TPM_ECC_NIST_P521: u16 = 0x0005;

const OID_TPM_MANUFACTURER: Oid = Oid::new_unwrap("2.23.133.2.1");
const OID_TPM_MODEL: Oid = Oid::new_unwrap("2.23.133.2.2");
const OID_TPM_VERSION: Oid = Oid::new_unwrap("2.23.133.2.3");
const OID_TCG_KP_AIK_CERTIFICATE: Oid = Oid::new_unwrap("2.23.133.8.3");

pub(super) fn verify(
    statement: &Statement,
    obs: &mut Observer,
) -> Result<Verified, RegistrationError> {
    let stmt = statement.att_stmt;
    match cbor::text_key(stmt, "ver") {
        Some(ciborium::value::Value::Text(v)) if v == "2.0" => {}
        _ => return Err(invalid("its \"ver\" is not \"2.0\"")),
    }
    if cbor::text_key(stmt, "ecdaaKeyId").is_some() {
        return Err(invalid("ECDAA attestation is not supported"));
    }
    let alg = super::algorithm(stmt)?;
    let sig = super::signature(stmt)?;
    let bytes = |name: &str| {
        cbor::text_key(stmt, name)
            .and_then(cbor::byte_string)
            .ok_or_else(|| invalid(&format!("it has no \"{name}\" byte string")))
    };
    let cert_info = bytes("certInfo")?;
    let pub_area = bytes("pubArea")?;
    let chain = super::x5c(stmt)?.ok_or_else(|| invalid("it has no \"x5c\" (AIK) certificate"))?;
    let aik = chain
        .first()
        .ok_or_else(|| invalid("\"x5c\" holds no certificate"))?;
    let scheme = Scheme::from_cose_tpm(alg)
        .ok_or_else(|| invalid(&format!("the algorithm {alg} is not supported")))?;

    let public = PubArea::parse(pub_area).map_err(|e| invalid(&format!("pubArea {e}")))?;
    check_key(&public, statement)?;
    obs.pass("tpm.pubArea", || {
        format!(
            "an {} key equal to the credential public key",
            if public.rsa.is_some() { "RSA" } else { "ECC" }
        )
    });

    let attest = CertInfo::parse(cert_info).map_err(|e| invalid(&format!("certInfo {e}")))?;
    if attest.magic != TPM_GENERATED_VALUE {
        return Err(invalid("certInfo magic is not TPM_GENERATED_VALUE"));
    }
    if attest.kind != TPM_ST_ATTEST_CERTIFY {
        return Err(invalid("certInfo type is not TPM_ST_ATTEST_CERTIFY"));
    }
    obs.pass("tpm.certInfo", || {
        "magic TPM_GENERATED_VALUE, type TPM_ST_ATTEST_CERTIFY".into()
    });
    let expected_extra = scheme.hash().digest(&statement.signed_data());
    if attest.extra_data != expected_extra.as_slice() {
        return Err(invalid(
            "certInfo extraData is not the hash of authenticatorData || clientDataHash",
        ));
    }
    obs.pass("tpm.extraData", || {
        format!(
            "equals {:?}(authenticatorData || clientDataHash)",
            scheme.hash()
        )
    });
    let name_hash = name_hash(public.name_alg)
        .ok_or_else(|| invalid("pubArea nameAlg is not a supported hash"))?;
    let mut name = public.name_alg.to_be_bytes().to_vec();
    name.extend_from_slice(&name_hash.digest(pub_area));
    if attest.attested_name != name.as_slice() {
        return Err(invalid(
            "certInfo attested name is not the name of pubArea (nameAlg || hash(pubArea))",
        ));
    }
    obs.pass("tpm.attestedName", || {
        format!("equals nameAlg || {name_hash:?}(pubArea)")
    });

    if !trust::verify_with_cert(aik, scheme, cert_info, sig) {
        return Err(RegistrationError::AttestationSignatureInvalid);
    }
    obs.pass("attestationSignature", || {
        format!("certInfo verifies with the AIK certificate's key (alg {alg})")
    });
    check_aik_certificate(aik, &statement.credential.aaguid)
        .map_err(RegistrationError::CertificateInvalid)?;
    obs.pass("tpm.aikCertificate", || {
        "meets §8.3.1: version 3, empty subject, TPM SAN, EKU tcg-kp-AIKCertificate, not a CA, AAGUID extension (if any) matches".into()
    });
    Ok(Verified {
        kind: AttestationType::AttCa,
        chain,
    })
}

fn name_hash(alg: u16) -> Option<Hash> {
    Some(match alg {
        0x0004 => Hash::Sha1,
        0x000b => Hash::Sha256,
        0x000c => Hash::Sha384,
        0x000d => Hash::Sha512,
        _ => return None,
    })
}

/// The parts of TPMT_PUBLIC we compare.
#[derive(Debug)]
pub(crate) struct PubArea<'a> {
    pub name_alg: u16,
    /// RSA: modulus and exponent (0 in the TPM means 65537).
    pub rsa: Option<(&'a [u8], u32)>,
    /// ECC: curve, x, y.
    pub ecc: Option<(u16, &'a [u8], &'a [u8])>,
}

/// A cursor over big-endian TPM structures.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let head = self.0.get(..n).ok_or("is too short")?;
        self.0 = self.0.get(n..).unwrap_or_default();
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A TPM2B: a u16 size and that many bytes.
    fn sized(&mut self) -> Result<&'a [u8], String> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    fn done(&self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err("has bytes after its last member".into())
        }
    }
}

impl<'a> PubArea<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        let mut r = Reader(bytes);
        let kind = r.u16()?;
        let name_alg = r.u16()?;
        let _object_attributes = r.u32()?;
        let _auth_policy = r.sized()?;
        // TPMT_SYM_DEF_OBJECT: algorithm, then keyBits and mode unless NULL.
        if r.u16()? != TPM_ALG_NULL {
            r.take(4)?;
        }
        // The signing scheme: scheme, then a hash unless NULL.
        if r.u16()? != TPM_ALG_NULL {
            r.take(2)?;
        }
        let out = match kind {
            TPM_ALG_RSA => {
                let _key_bits = r.u16()?;
                let exponent = r.u32()?;
                let n = r.sized()?;
                Self {
                    name_alg,
                    rsa: Some((n, exponent)),
                    ecc: None,
                }
            }
            TPM_ALG_ECC => {
                let curve = r.u16()?;
                // TPMT_KDF_SCHEME: scheme, then a hash unless NULL.
                if r.u16()? != TPM_ALG_NULL {
                    r.take(2)?;
                }
                let x = r.sized()?;
                let y = r.sized()?;
                Self {
                    name_alg,
                    rsa: None,
                    ecc: Some((curve, x, y)),
                }
            }
            other => return Err(format!("has the unsupported key type {other:#06x}")),
        };
        r.done()?;
        Ok(out)
    }
}

/// pubArea's key must be the credential key (§8.3 "Verify that the public key specified by
/// the parameters and unique fields of pubArea is identical to the credentialPublicKey").
fn check_key(public: &PubArea, statement: &Statement) -> Result<(), RegistrationError> {
    let same = match (&statement.key.key, public.rsa, public.ecc) {
        (KeyMaterial::Rsa { n, e }, Some((pn, pe)), None) => {
            let exponent = if pe == 0 { 65537 } else { pe };
            let e_value = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            strip(pn) == n.as_slice() && u64::from(exponent) == e_value
        }
        (KeyMaterial::Ec2 { crv, point }, None, Some((curve, x, y))) => {
            let want = match *crv {
                CRV_P256 => TPM_ECC_NIST_P256,
                CRV_P384 => TPM_ECC_NIST_P384,
                CRV_P521 => TPM_ECC_NIST_P521,
                _ => 0,
            };
            let size = (point.len() - 1) / 2;
            curve == want
                && x.len() == size
                && y.len() == size
                && point.get(1..1 + size) == Some(x)
                && point.get(1 + size..) == Some(y)
        }
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(invalid("the pubArea key is not the credential public key"))
    }
}

fn strip(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// The parts of TPMS_ATTEST we check.
#[derive(Debug)]
pub(crate) struct CertInfo<'a> {
    pub magic: u32,
    pub kind: u16,
    pub extra_data: &'a [u8],
    pub attested_name: &'a [u8],
}

impl<'a> CertInfo<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        let mut r = Reader(bytes);
        let magic = r.u32()?;
        let kind = r.u16()?;
        let _qualified_signer = r.sized()?;
        let extra_data = r.sized()?;
        // TPMS_CLOCK_INFO: clock, resetCount, restartCount, safe (not interpreted).
        r.take(8 + 4 + 4)?;
        let _safe = r.u8()?;
        let _firmware_version = r.take(8)?;
        // TPMS_CERTIFY_INFO: name, qualifiedName.
        let attested_name = r.sized()?;
        let _qualified_name = r.sized()?;
        r.done()?;
        Ok(Self {
            magic,
            kind,
            extra_data,
            attested_name,
        })
    }
}

/// §8.3.1 TPM attestation statement certificate requirements. Extensions we do not need
/// (certificatePolicies among them, whose user notices some TPM vendors encode loosely) are
/// not parsed.
fn check_aik_certificate(aik: &Certificate, aaguid: &[u8; 16]) -> Result<(), String> {
    let tbs = &aik.tbs_certificate;
    if tbs.version != Version::V3 {
        return Err("it is not an X.509 version 3 certificate".into());
    }
    if !tbs.subject.0.is_empty() {
        return Err("its subject is not empty".into());
    }
    let names = trust::subject_alt_names(aik)
        .map_err(|e| format!("it {e}"))?
        .ok_or("it has no subjectAltName")?;
    let mut found = [false; 3];
    for name in &names.0 {
        let GeneralName::DirectoryName(dn) = name else {
            continue;
        };
        for atv in dn.0.iter().flat_map(|rdn| rdn.0.iter()) {
            for (i, oid) in [OID_TPM_MANUFACTURER, OID_TPM_MODEL, OID_TPM_VERSION]
                .iter()
                .enumerate()
            {
                if &atv.oid == oid {
                    found[i] = true;
                }
            }
        }
    }
    if found != [true; 3] {
        return Err(
            "its subjectAltName does not name the TPM manufacturer, model and version".into(),
        );
    }
    let eku = trust::extended_key_usage(aik)
        .map_err(|e| format!("it {e}"))?
        .ok_or("it has no extendedKeyUsage")?;
    if !eku.contains(&OID_TCG_KP_AIK_CERTIFICATE) {
        return Err("its extendedKeyUsage lacks tcg-kp-AIKCertificate (2.23.133.8.3)".into());
    }
    if trust::basic_constraints(aik)
        .map_err(|e| format!("it {e}"))?
        .is_some_and(|c| c.ca)
    {
        return Err("it is a CA certificate (basicConstraints CA is true)".into());
    }
    if let Some((cert_aaguid, _)) = trust::aaguid_extension(aik).map_err(|e| format!("it {e}"))? {
        if &cert_aaguid != aaguid {
            return Err("its AAGUID extension differs from the authenticator's AAGUID".into());
        }
    }
    Ok(())
}
