//! The `clientDataJSON.type` values a relying party accepts instead of WebAuthn's own
//! (`expected_registration_types`, `expected_authentication_types` of `[relying_party]` and of a
//! tenant), checked here for the configuration and for `fidoflow verify --expected-type`.

/// WebAuthn's type of a registration's client data.
pub(super) const WEBAUTHN_CREATE: &str = "webauthn.create";
/// WebAuthn's type of an assertion's client data.
pub(super) const WEBAUTHN_GET: &str = "webauthn.get";

/// The most types one list may hold.
const MAX_TYPES: usize = 16;
/// The longest type.
const MAX_TYPE_LEN: usize = 64;

/// The accepted types of one ceremony, checked: 1 to 16 names of 1 to 64 characters of
/// `A-Z a-z 0-9 . - _`, trimmed and without duplicates, never `other` (the other ceremony's
/// WebAuthn type: telling an assertion from a registration is what the type check is for).
/// `own` is the ceremony's WebAuthn type, for the example of a refusal. `Err` says why.
pub fn client_data_types(
    types: Vec<String>,
    own: &str,
    other: &str,
) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for kind in types {
        let kind = kind.trim();
        let well_formed = (1..=MAX_TYPE_LEN).contains(&kind.len())
            && kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !well_formed {
            return Err(format!(
                "`{kind}` is not a client data type (1 to {MAX_TYPE_LEN} characters of \
                 A-Z a-z 0-9 . - _, such as \"{own}\")"
            ));
        }
        if kind == other {
            return Err(format!(
                "`{other}` is the type of the other ceremony, which this one never accepts"
            ));
        }
        if !out.iter().any(|o| o == kind) {
            out.push(kind.to_owned());
        }
    }
    if out.is_empty() {
        return Err(format!(
            "is empty; list at least one type, such as [\"{own}\"]"
        ));
    }
    if out.len() > MAX_TYPES {
        return Err(format!("lists {} types; at most {MAX_TYPES}", out.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn types_are_trimmed_deduplicated_and_kept_in_order() {
        let checked = client_data_types(
            strings(&[" webauthn.get", "payment.get", "webauthn.get "]),
            WEBAUTHN_GET,
            WEBAUTHN_CREATE,
        );
        assert_eq!(checked.unwrap(), ["webauthn.get", "payment.get"]);
        let many: Vec<String> = (0..16).map(|i| format!("t{i}.get")).collect();
        assert_eq!(
            client_data_types(many, WEBAUTHN_GET, WEBAUTHN_CREATE)
                .unwrap()
                .len(),
            16
        );
    }

    #[test]
    fn empty_malformed_crossed_or_too_many_types_are_refused_saying_why() {
        let refused =
            |list: Vec<String>| client_data_types(list, WEBAUTHN_CREATE, WEBAUTHN_GET).unwrap_err();
        assert!(refused(vec![]).contains("[\"webauthn.create\"]"));
        for bad in ["", "  ", "webauthn create", "typ\u{e9}", &"x".repeat(65)] {
            assert!(
                refused(strings(&[bad])).contains("is not a client data type"),
                "{bad:?}"
            );
        }
        assert!(refused(strings(&["webauthn.get"])).contains("other ceremony"));
        let many: Vec<String> = (0..17).map(|i| format!("t{i}.create")).collect();
        assert!(refused(many).contains("at most 16"));
        assert!(client_data_types(strings(&[&"x".repeat(64)]), "a", "b").is_ok());
    }

    #[test]
    fn the_relying_party_keys_default_to_the_webauthn_types_and_are_checked() {
        let s = parse("").unwrap();
        assert_eq!(
            s.relying_party.expected_registration_types,
            ["webauthn.create"]
        );
        assert_eq!(
            s.relying_party.expected_authentication_types,
            ["webauthn.get"]
        );
        let s = parse(
            "[relying_party]\nexpected_authentication_types = [\"webauthn.get\", \"payment.get\"]\n",
        )
        .unwrap();
        assert_eq!(
            s.relying_party.expected_authentication_types,
            ["webauthn.get", "payment.get"]
        );
        for (key, list) in [
            ("expected_registration_types", "[\"webauthn.get\"]"),
            ("expected_registration_types", "[]"),
            ("expected_authentication_types", "[\"webauthn.create\"]"),
            ("expected_authentication_types", "[\"a b\"]"),
        ] {
            let error = refusal(&format!("[relying_party]\n{key} = {list}\n"));
            assert_eq!(error.key(), Some(format!("relying_party.{key}").as_str()));
        }
    }

    #[test]
    fn a_tenant_has_its_own_types_defaulting_to_the_webauthn_ones() {
        let s = parse(&format!(
            "[relying_party]\nexpected_authentication_types = [\"webauthn.get\", \"payment.get\"]\n{}",
            demo("expected_registration_types = [\"webauthn.create\", \"example.create\"]\n")
        ))
        .unwrap();
        let t = &s.tenants[0].relying_party;
        assert_eq!(
            t.expected_registration_types,
            ["webauthn.create", "example.create"]
        );
        assert_eq!(t.expected_authentication_types, ["webauthn.get"]);
        let (key, _) = refused(&demo(
            "expected_authentication_types = [\"webauthn.create\"]\n",
        ));
        assert_eq!(key, "tenants[0].expected_authentication_types");
        let json = serde_json::json!({
            "id": "api", "access_path": "YXBp", "rp_id": "localhost", "rp_name": "API",
            "origins": ["http://localhost"], "conformance": true,
            "expected_registration_types": []
        });
        let error = crate::config::tenant_from_json(&json, &[]).unwrap_err();
        assert_eq!(error.key(), Some("tenants[0].expected_registration_types"));
    }
}
