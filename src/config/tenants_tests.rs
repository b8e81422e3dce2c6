//! The tenants' unit tests: `[[tenants]]` and admin-made tenants parsed, defaulted and refused.

use super::super::testing::*;
use super::super::{ConfigError, Settings};
use super::*;

#[test]
fn the_documented_form_parses_with_the_defaults_of_every_optional_key() {
    let s = parse(&demo("")).unwrap();
    assert_eq!(s.tenants.len(), 1);
    let t = &s.tenants[0];
    assert_eq!(t.id, "demo");
    assert_eq!(t.access_path, "ZGVtby5leGFtcGxl");
    assert_eq!(t.relying_party.id, "localhost");
    assert_eq!(t.relying_party.name, "Demo RP");
    assert_eq!(t.relying_party.origins, vec!["http://localhost"]);
    assert!(!t.relying_party.allow_cross_origin && t.relying_party.top_origins.is_empty());
    assert_eq!(t.defaults, TenantCeremonyDefaults::default());
    assert!(t.attestation.is_none());
    assert_eq!(t.api_keys.len(), 1);
    assert_eq!(t.api_keys[0].name, "backend");
    assert!(!t.conformance);
    assert_eq!(t.max_keys_per_user, 10);
    assert_eq!(t.domains, ["master"]);
    assert_eq!(s.tenant("demo").map(|t| t.id.as_str()), Some("demo"));
    assert!(s.tenant("default").is_none() && s.tenant("other").is_none());
    let by_path = s.tenant_by_access_path("ZGVtby5leGFtcGxl");
    assert_eq!(by_path.map(|t| t.id.as_str()), Some("demo"));
    assert!(s.tenant_by_access_path("zgvtby5leGFtcGxl").is_none());
}

#[test]
fn user_domains_are_checked_and_kept_in_order() {
    let s = parse(&demo(
        "domains = [\"master\", \"retail.eu\", \"corp-2_b\"]\n",
    ))
    .unwrap();
    assert_eq!(s.tenants[0].domains, ["master", "retail.eu", "corp-2_b"]);
    let long = format!("domains = [\"{}\"]\n", "d".repeat(64));
    assert!(parse(&demo(&long)).is_ok());
    let many: Vec<String> = (0..16).map(|i| format!("\"d{i}\"")).collect();
    assert!(parse(&demo(&format!("domains = [{}]\n", many.join(",")))).is_ok());
    let too_many: Vec<String> = (0..17).map(|i| format!("\"d{i}\"")).collect();
    for (bad, said) in [
        ("domains = []\n".to_string(), "1 to 16"),
        (format!("domains = [{}]\n", too_many.join(",")), "1 to 16"),
        ("domains = [\"\"]\n".to_string(), "1 to 64"),
        (format!("domains = [\"{}\"]\n", "d".repeat(65)), "1 to 64"),
        ("domains = [\"a@b\"]\n".to_string(), "1 to 64"),
        ("domains = [\"a b\"]\n".to_string(), "1 to 64"),
        ("domains = [\"m\", \"m\"]\n".to_string(), "listed twice"),
    ] {
        let err = parse(&demo(&bad)).unwrap_err();
        assert_eq!(err.key(), Some("tenants[0].domains"), "{bad}: {err}");
        assert!(err.to_string().contains(said), "{bad}: {err}");
    }
}

#[test]
fn every_optional_tenant_key_is_read() {
    let text = demo(
        "allow_cross_origin = true\ntop_origins = [\"https://portal.example.com/\"]\n\
         user_verification = \"required\"\nresident_key = \"discouraged\"\n\
         attestation_conveyance = \"direct\"\ntimeout = \"2m\"\nalgorithms = [-7, -257]\n\
         conformance = true\nmax_keys_per_user = 3\n\
         [tenants.attestation]\npolicy = \"require-trusted\"\n",
    );
    let vars = env(&[("FIDOFLOW_TRUST_ANCHORS_DIR", env!("CARGO_MANIFEST_DIR"))]);
    let s = Settings::from_toml_str(&text, &vars).unwrap();
    let t = &s.tenants[0];
    assert!(t.relying_party.allow_cross_origin);
    assert_eq!(
        t.relying_party.top_origins,
        vec!["https://portal.example.com"]
    );
    assert_eq!(
        t.defaults,
        TenantCeremonyDefaults {
            user_verification: Some(UserVerification::Required),
            resident_key: Some(ResidentKey::Discouraged),
            attestation: Some(Conveyance::Direct),
            timeout: Some(Duration::from_secs(120)),
            algorithms: Some(vec![-7, -257]),
        }
    );
    assert!(t.conformance);
    assert_eq!(t.max_keys_per_user, 3);
    let own = t
        .attestation
        .as_ref()
        .expect("the tenant's attestation table");
    assert!(own.demands_trust());
    // Keys the tenant's table leaves out come from [attestation] (and its variables).
    assert_eq!(own.trust_anchors_dir, s.attestation.trust_anchors_dir);
    assert!(own.trust_anchors_dir.is_some());
    assert!(!s.attestation.demands_trust());
}

#[test]
fn a_tenant_without_an_id_is_refused_naming_the_key() {
    let text = demo("").replace("id = \"demo\"\n", "");
    assert_eq!(refused(&text).0, "tenants[0].id");
}

#[test]
fn a_tenant_id_outside_its_alphabet_or_length_is_refused() {
    for id in ["", "Demo", "de mo", "démo", "demo.example", &"a".repeat(33)] {
        let text = demo("").replace("id = \"demo\"", &format!("id = \"{id}\""));
        assert_eq!(refused(&text).0, "tenants[0].id", "{id}");
    }
    let longest = "a-b_0".repeat(6) + "zz";
    let text = demo("").replace("id = \"demo\"", &format!("id = \"{longest}\""));
    assert!(parse(&text).is_ok());
}

#[test]
fn a_tenant_called_default_is_refused_because_relying_party_is_that_tenant() {
    let text = demo("").replace("id = \"demo\"", "id = \"default\"");
    let (key, message) = refused(&text);
    assert_eq!(key, "tenants[0].id");
    assert!(
        message.contains("built-in") && message.contains("[relying_party]"),
        "{message}"
    );
}

#[test]
fn two_tenants_with_the_same_id_are_refused() {
    let (key, message) = refused(&second("demo", "b3RoZXI"));
    assert_eq!(key, "tenants[1].id");
    assert!(message.contains("tenants[0]"), "{message}");
}

#[test]
fn an_access_path_outside_base64url_or_its_length_is_refused() {
    for path in ["", "a/b", "a+b", "ab==", "a.b", &"A".repeat(129)] {
        let text = demo("").replace("ZGVtby5leGFtcGxl", path);
        assert_eq!(refused(&text).0, "tenants[0].access_path", "{path}");
    }
    let text = demo("").replace("ZGVtby5leGFtcGxl", &"A-_9".repeat(32));
    assert!(parse(&text).is_ok());
}

#[test]
fn an_access_path_the_server_already_serves_is_refused_ignoring_case() {
    for (path, clash) in [
        ("rest", "/rest"),
        ("HelpDesk", "/helpdesk"),
        ("API", "/api"),
    ] {
        let text = demo("").replace("ZGVtby5leGFtcGxl", path);
        let (key, message) = refused(&text);
        assert_eq!(key, "tenants[0].access_path", "{path}");
        assert!(message.contains(clash), "{message}");
    }
}

#[test]
fn two_tenants_with_the_same_access_path_are_refused_ignoring_case() {
    let (key, message) = refused(&second("other", "zgvtby5leGFtcGxl"));
    assert_eq!(key, "tenants[1].access_path");
    assert!(message.contains("tenants[0]"), "{message}");
    assert_eq!(parse(&second("other", "b3RoZXI")).unwrap().tenants.len(), 2);
}

#[test]
fn a_tenant_rp_id_is_checked_like_the_relying_party_id() {
    for rp_id in ["com", "127.0.0.1", "Example.org", ""] {
        let text = demo("").replace("rp_id = \"localhost\"", &format!("rp_id = \"{rp_id}\""));
        assert_eq!(refused(&text).0, "tenants[0].rp_id", "{rp_id}");
    }
    let text = demo("").replace("rp_name = \"Demo RP\"", "rp_name = \" \"");
    assert_eq!(refused(&text).0, "tenants[0].rp_name");
}

#[test]
fn a_tenant_origin_off_its_rp_id_is_refused_naming_the_tenant_keys() {
    let text = demo("").replace("http://localhost", "https://example.org");
    let (key, message) = refused(&text);
    assert_eq!(key, "tenants[0].origins");
    assert!(
        message.contains("tenants[0].rp_id `localhost`"),
        "{message}"
    );
    let text = demo("").replace("http://localhost", "http://example.localhost.org");
    assert_eq!(refused(&text).0, "tenants[0].origins");
}

#[test]
fn a_tenant_takes_android_app_origins_and_needs_at_least_one_origin() {
    let app = "android:apk-key-hash:Abc-_123XYZ";
    let text = demo("").replace("[\"http://localhost\"]", &format!("[\"{app}\"]"));
    assert_eq!(
        parse(&text).unwrap().tenants[0].relying_party.origins,
        vec![app]
    );
    let text = demo("").replace("[\"http://localhost\"]", "[]");
    assert_eq!(refused(&text).0, "tenants[0].origins");
    let text = demo("").replace("origins = [\"http://localhost\"]\n", "");
    assert_eq!(refused(&text).0, "tenants[0].origins");
}

#[test]
fn tenant_top_origins_need_cross_origin_to_be_allowed() {
    let (key, message) = refused(&demo("top_origins = [\"https://portal.example.com\"]\n"));
    assert_eq!(key, "tenants[0].top_origins");
    assert!(
        message.contains("tenants[0].allow_cross_origin"),
        "{message}"
    );
}

#[test]
fn a_tenant_without_api_keys_is_refused_unless_it_serves_conformance_tests() {
    let without = demo("").replace(
        &format!(
            "api_keys = [{{ name = \"backend\", sha256 = \"{}\" }}]\n",
            sha256_hex(DEMO_KEY)
        ),
        "",
    );
    assert_eq!(refused(&without).0, "tenants[0].api_keys");
    let empty = format!("{without}api_keys = []\n");
    assert_eq!(refused(&empty).0, "tenants[0].api_keys");
    let conformance = format!("{without}conformance = true\n");
    let s = parse(&conformance).unwrap();
    assert!(s.tenants[0].conformance && s.tenants[0].api_keys.is_empty());
}

#[test]
fn zero_keys_per_user_is_refused() {
    assert_eq!(
        refused(&demo("max_keys_per_user = 0\n")).0,
        "tenants[0].max_keys_per_user"
    );
}

#[test]
fn a_tenant_timeout_is_a_duration_of_at_most_a_day() {
    for bad in ["\"0s\"", "\"2d\"", "\"soon\""] {
        let text = demo(&format!("timeout = {bad}\n"));
        assert_eq!(refused(&text).0, "tenants[0].timeout", "{bad}");
    }
}

#[test]
fn tenant_algorithms_must_be_ones_the_server_verifies() {
    for bad in ["[]", "[-7, 1]"] {
        let text = demo(&format!("algorithms = {bad}\n"));
        assert_eq!(refused(&text).0, "tenants[0].algorithms", "{bad}");
    }
    let error = refusal(&demo("user_verification = \"always\"\n"));
    assert!(matches!(error, ConfigError::Parse { .. }), "{error}");
}

#[test]
fn a_tenant_attestation_table_is_checked_under_its_own_key() {
    let text = demo("[tenants.attestation]\naaguid_allow_list = [\"yubikey\"]\n");
    assert_eq!(refused(&text).0, "tenants[0].attestation.aaguid_allow_list");
    let text = demo("[tenants.attestation]\ntrust_anchors_dir = \"/nonexistent/anchors\"\n");
    assert_eq!(refused(&text).0, "tenants[0].attestation.trust_anchors_dir");
    let error = refusal(&demo("[tenants.attestation]\npolicy = \"trust-me\"\n"));
    assert!(error.to_string().contains("trust-me"), "{error}");
}

#[test]
fn an_unknown_tenant_key_is_refused_naming_it() {
    let error = refusal(&demo("rp_origin = \"http://localhost\"\n"));
    assert!(matches!(error, ConfigError::Parse { .. }));
    assert!(error.to_string().contains("rp_origin"), "{error}");
}
