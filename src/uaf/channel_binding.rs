//! The channel binding of fcParams (protocol §3.1.8): what the app saw of its TLS connection to
//! the relying party. The relying party's backend, not the app, calls this server, so the only
//! parts it can compare are the ones naming the relying party's TLS server certificate:
//! `tlsServerCertificate` (base64url of its DER) and `serverEndPoint` (base64url of its hash,
//! RFC 5929 `tls-server-end-point`: SHA-256 for certificates signed with MD5, SHA-1 or SHA-256,
//! else the signature's hash — any of SHA-256, SHA-384 and SHA-512 of a configured certificate
//! is accepted, which binds the same certificate). `tlsUnique` and `cid_pubkey` belong to one
//! connection this server never sees; they are only checked to be strings. A binding that names
//! another certificate means something between the app and the relying party terminated TLS:
//! it is refused with 1490.

use ring::digest::{digest, SHA256, SHA384, SHA512};
use serde_json::Value;

use super::messages::b64;
use super::status::{StatusCode, UafRefusal};

/// How the channel binding is judged.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelBindingPolicy<'a> {
    /// DER certificates the relying party's TLS server presents to its apps; empty: the binding
    /// is only checked for shape.
    pub server_certificates: &'a [Vec<u8>],
    /// With certificates: refuse a binding that names neither `serverEndPoint` nor
    /// `tlsServerCertificate`.
    pub required: bool,
}

fn refused(why: impl Into<String>) -> UafRefusal {
    UafRefusal::new(StatusCode::ChannelBindingRefused, "channelBinding", why)
}

/// Checks fcParams' `channelBinding` (`Value::Null` when absent) against the policy.
pub fn check_channel_binding(
    binding: &Value,
    policy: &ChannelBindingPolicy<'_>,
) -> Result<(), UafRefusal> {
    let strings = match binding {
        Value::Null => true,
        Value::Object(members) => members.values().all(Value::is_string),
        _ => false,
    };
    if !strings {
        return Err(refused("the channel binding is not an object of strings"));
    }
    let certificates = policy.server_certificates;
    if certificates.is_empty() {
        return Ok(());
    }
    let member = |name: &str| {
        binding
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (certificate, end_point) = (member("tlsServerCertificate"), member("serverEndPoint"));
    if certificate.is_none() && end_point.is_none() {
        return if policy.required {
            Err(refused(
                "the app sent no binding to the relying party's TLS server certificate \
                 (serverEndPoint or tlsServerCertificate), which this relying party requires",
            ))
        } else {
            Ok(())
        };
    }
    if let Some(text) = certificate {
        let der = b64(text).ok_or_else(|| refused("tlsServerCertificate is not base64url"))?;
        if !certificates.contains(&der) {
            return Err(refused(
                "tlsServerCertificate is not the relying party's TLS server certificate: \
                 something between the app and the relying party terminated TLS",
            ));
        }
    }
    if let Some(text) = end_point {
        let hash = b64(text).ok_or_else(|| refused("serverEndPoint is not base64url"))?;
        let known = certificates.iter().any(|der| {
            [&SHA256, &SHA384, &SHA512]
                .into_iter()
                .any(|alg| digest(alg, der).as_ref() == hash.as_slice())
        });
        if !known {
            return Err(refused(
                "serverEndPoint is not the hash of the relying party's TLS server certificate: \
                 something between the app and the relying party terminated TLS",
            ));
        }
    }
    Ok(())
}
