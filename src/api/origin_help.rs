//! A page opened at an address the server does not serve WebAuthn on (first runs open
//! `http://127.0.0.1:8080` when the origin is `http://localhost:8080`): its page requests are
//! sent to the configured origin, and its API calls are refused with a detail that says which
//! origin came, which the server accepts and what to set, which the page shows.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::error::ApiError;

/// The longest part of a refused `Origin` header repeated in the answer and the log.
const SHOWN: usize = 100;

/// The web origins (`scheme://host[:port]`) among the configured ones, app origins left out.
fn web_origins(origins: &[String]) -> Vec<&str> {
    origins
        .iter()
        .map(String::as_str)
        .filter(|o| o.starts_with("https://") || o.starts_with("http://"))
        .collect()
}

/// The refusal of a browser-facing call whose `Origin` is none of `origins`, logged at WARN
/// with the origin that came and those expected (no cookie, no header beyond the Origin).
pub fn origin_refused(origin: &str, origins: &[String]) -> ApiError {
    let came: String = origin.chars().take(SHOWN).collect();
    let expected = web_origins(origins);
    let list = if expected.is_empty() {
        origins.join(", ")
    } else {
        expected.join(", ")
    };
    tracing::warn!(
        origin = %came,
        expected = %list,
        "refused a call whose Origin is none of relying_party.origins (CSRF_ORIGIN_MISMATCH)"
    );
    let open = if expected.len() > 1 {
        "open one of those addresses"
    } else {
        "open that address"
    };
    ApiError::CsrfOriginMismatch(format!(
        "This page was opened at {came} but the server only accepts {list}; {open}, or set \
         relying_party.origins / FIDOFLOW_ORIGINS"
    ))
}

/// A page request whose host is an IP address, which can never be a WebAuthn RP ID: a
/// `307 Temporary Redirect` to the same path and query on the configured web origin of the same
/// scheme and port (this listener under its name). `None` when the host is a name, or when no
/// origin has that port (a proxy's, say: the server cannot tell where it would lead).
pub fn page_redirect(req: &HttpRequest, origins: &[String]) -> Option<HttpResponse> {
    let info = req.connection_info();
    let host = info.host();
    if !is_ip_host(host) {
        return None;
    }
    let scheme = info.scheme();
    let port = host
        .rsplit_once(':')
        .filter(|(_, port)| !port.contains(']'))
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .or(match scheme {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        })?;
    let target = web_origins(origins).into_iter().find(|origin| {
        url::Url::parse(origin)
            .is_ok_and(|url| url.scheme() == scheme && url.port_or_known_default() == Some(port))
    })?;
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_string(), |p| p.as_str().to_string());
    Some(
        HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, format!("{target}{path}")))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    )
}

/// `127.0.0.1`, `127.0.0.1:8080`, `[::1]:8080`, `::1`.
fn is_ip_host(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.parse::<IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_hosts_are_told_from_names() {
        for ip in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]:8080",
            "::1",
            "[::1]",
            "10.0.0.1:80",
        ] {
            assert!(is_ip_host(ip), "{ip}");
        }
        for name in [
            "localhost",
            "localhost:8080",
            "example.com",
            "1.2.3.4.example.com:1",
        ] {
            assert!(!is_ip_host(name), "{name}");
        }
    }

    #[test]
    fn the_refusal_names_the_origin_that_came_and_the_one_to_open() {
        let origins = vec![
            "http://localhost:8080".to_string(),
            "android:apk-key-hash:abc".to_string(),
        ];
        let text = origin_refused("http://127.0.0.1:8080", &origins).to_string();
        assert_eq!(
            text,
            "This page was opened at http://127.0.0.1:8080 but the server only accepts \
             http://localhost:8080; open that address, or set relying_party.origins / \
             FIDOFLOW_ORIGINS"
        );
        let long = "x".repeat(500);
        assert!(origin_refused(&long, &origins).to_string().len() < 300);
    }
}
