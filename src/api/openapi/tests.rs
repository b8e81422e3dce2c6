//! The document against the route tables: every route is documented and nothing else is, and
//! the document holds together (references resolve, operation ids are unique, every error code
//! is named).

use std::collections::BTreeSet;

use serde_json::Value;

use super::document;
use crate::api::authfi::error::CODES;
use crate::api::route_list;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `/users/{username}` and `/users/{uid}` alike: parameter names do not matter.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

fn json() -> Value {
    serde_json::to_value(document()).expect("the document serialises")
}

/// `(METHOD, normalised path)` of every operation in the document.
fn documented(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), normalise(path)));
            }
        }
    }
    out
}

fn routed() -> Vec<(String, String)> {
    route_list()
        .into_iter()
        .map(|(method, path)| (method.to_string(), normalise(&path)))
        .collect()
}

#[test]
fn every_route_is_in_the_document_and_nothing_else() {
    let doc = json();
    let routes: BTreeSet<_> = routed().into_iter().collect();
    let documented: BTreeSet<_> = documented(&doc).into_iter().collect();
    let missing: Vec<_> = routes.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes the router serves but the document does not name: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "operations the document names but the router does not serve: {extra:?}"
    );
}

#[test]
fn no_route_is_registered_twice() {
    let routes = routed();
    let unique: BTreeSet<_> = routes.iter().collect();
    assert_eq!(routes.len(), unique.len(), "{routes:?}");
}

#[test]
fn the_route_list_has_every_api() {
    let paths: Vec<String> = route_list().into_iter().map(|(_, p)| p).collect();
    for expected in [
        "/rest/public/authentication/password/check",
        "/rest/public/user-self-registration/{id}/select",
        "/rest/protected/self-service/fido/credentials",
        "/rest/admin/users/{username}/fido/credentials/{credential_id}",
        "/{access_path}/api/v1/webauthn/registration",
        "/{access_path}/attestation/options",
        "/helpdesk",
        "/openapi.json",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} is not routed"
        );
    }
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = json();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} is not a schema reference"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} does not resolve"
        );
    }
}

#[test]
fn operation_ids_are_unique_and_every_operation_is_tagged() {
    let doc = json();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().expect("an operationId");
            assert!(ids.insert(id.to_string()), "{id} twice ({method} {path})");
            assert_eq!(
                op["tags"].as_array().map(Vec::len),
                Some(1),
                "{method} {path}"
            );
            assert!(
                ["200", "201", "204"]
                    .iter()
                    .any(|status| op["responses"][status].is_object()),
                "{method} {path} answers no success"
            );
        }
    }
}

#[test]
fn every_path_parameter_is_declared() {
    let doc = json();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let names: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split('}').next())
            .collect();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            let mut expected = names.clone();
            expected.sort();
            let mut declared = declared.clone();
            declared.sort();
            assert_eq!(declared, expected, "{method} {path}");
        }
    }
}

#[test]
fn every_error_code_is_in_the_document() {
    let text = super::document_json();
    let doc: Value = serde_json::from_str(text).expect("JSON");
    let schemas = &doc["components"]["schemas"];
    let loginapp: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorCode is an enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for code in [
        "INVALID_REQUEST",
        "MDS_BLOB_REFUSED",
        "CSRF_HEADER_MISSING",
        "USER_LOCKED",
    ] {
        assert!(loginapp.contains(&code), "{code} missing from {loginapp:?}");
    }
    let wire = serde_json::to_value(crate::api::error::ErrorCode::FidoCredentialChangeNotAllowed)
        .expect("a code serialises");
    assert!(loginapp.contains(&wire.as_str().expect("a string")));
    assert_eq!(
        schemas["ErrorDocument"]["properties"]["errors"]["items"]["$ref"],
        "#/components/schemas/ErrorObject"
    );
    let authfi: Vec<u64> = schemas["AuthFiCode"]["oneOf"]
        .as_array()
        .expect("AuthFiCode is a oneOf")
        .iter()
        .filter_map(|c| c["enum"][0].as_u64())
        .collect();
    let table: Vec<u64> = CODES.iter().map(|(code, _, _)| u64::from(*code)).collect();
    assert_eq!(authfi, table);
}

#[test]
fn the_credentials_are_declared_where_they_are_needed() {
    let doc = json();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["adminToken"]["scheme"], "bearer");
    assert_eq!(schemes["apiKey"]["in"], "header");
    assert_eq!(schemes["apiKey"]["name"], "AT-X-Key");
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    assert_eq!(
        op("/rest/admin/users", "get")["security"],
        serde_json::json!([{ "adminToken": [] }])
    );
    assert_eq!(
        op("/{access_path}/api/v1/users", "get")["security"],
        serde_json::json!([{ "apiKey": [] }])
    );
    assert_eq!(
        op("/openapi.json", "get")["security"],
        serde_json::json!([{}])
    );
}
