//! What a server that configures no origins serves from: an origin derived from `server.bind`.

/// The port an origin is derived with when `server.bind` asks for any free port (0).
pub const DERIVED_ORIGIN_DEFAULT_PORT: u16 = 8080;

/// The origin of a server that lists none: `http://localhost:<port>` (`https` with TLS; the
/// scheme's default port left out), for the RP ID `localhost` only; `None` for any other RP ID,
/// whose public origin the bind address cannot tell.
pub fn derived_origin(rp_id: &str, port: u16, tls: bool) -> Option<String> {
    if rp_id != "localhost" {
        return None;
    }
    let port = if port == 0 {
        DERIVED_ORIGIN_DEFAULT_PORT
    } else {
        port
    };
    let scheme = if tls { "https" } else { "http" };
    Some(match (tls, port) {
        (false, 80) | (true, 443) => format!("{scheme}://localhost"),
        _ => format!("{scheme}://localhost:{port}"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Settings;
    use super::derived_origin;

    #[test]
    fn without_origins_the_origin_is_derived_from_the_bind_port() {
        let s = Settings::from_toml_str("", &env(&[("FIDOFLOW_BIND", "127.0.0.1:9090")])).unwrap();
        assert_eq!(s.relying_party.id, "localhost");
        assert_eq!(s.relying_party.origins, vec!["http://localhost:9090"]);
        assert!(s.server.origins_derived);
        let s = parse("[server]\nbind = \"0.0.0.0:0\"\n").unwrap();
        assert_eq!(s.relying_party.origins, vec!["http://localhost:8080"]);
        let s = parse("[server]\nbind = \"127.0.0.1:9090\"\n[relying_party]\norigins = [\"http://localhost:8080\"]\n").unwrap();
        assert_eq!(s.relying_party.origins, vec!["http://localhost:8080"]);
        assert!(!s.server.origins_derived);
        assert_eq!(
            derived_origin("localhost", 443, true).unwrap(),
            "https://localhost"
        );
        assert_eq!(
            derived_origin("localhost", 8443, true).unwrap(),
            "https://localhost:8443"
        );
        let error = refusal("[relying_party]\nid = \"example.org\"\n");
        assert_eq!(error.key(), Some("relying_party.origins"));
        assert!(error.to_string().contains("https://example.org"), "{error}");
    }
}
