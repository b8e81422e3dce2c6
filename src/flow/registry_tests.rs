//! The registry's unit tests: flow and application files loaded, and each refusal of their
//! validation with the file and the reason.

use super::*;

fn load(files: &[(&str, &str)]) -> Result<Registry, RegistryError> {
    Registry::from_sources(files.iter().map(|(f, t)| (Path::new(*f), *t)))
}

const APP: &str = r#"
[[application]]
id = "default"
max_age = "8h"
steps = [{ type = "password", grants = ["PASSWORD_VERIFIED"] }]
"#;

#[test]
fn every_shipped_flow_file_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let registry = Registry::load(&dir).unwrap();
    assert!(registry.application("default").is_some());
    assert!(registry.flow("fido-registration").is_some());
}

/// Found by the fuzz tests: `9223372036854775807d` overflowed the seconds (a panic in
/// debug builds, a wrapped, wrong age in release builds).
#[test]
fn an_overflowing_max_age_is_refused_not_a_panic() {
    let text = "[[application]]\nmax_age = \"9223372036854775807d\"\nsteps = []\n";
    let err = load(&[("flows/a.toml", text)]).unwrap_err();
    assert!(err.reason.contains("too long a duration"), "{}", err.reason);
    assert!(crate::flow::parse_duration("18446744073709551615s").is_ok());
    assert!(crate::flow::parse_duration("307445734561825861m").is_err());
}

/// An age is written back as whole seconds (what a stored flow state carries) and read
/// as the chrono duration the engine compares times with; a longer one than chrono holds
/// is the longest chrono duration, never zero.
#[test]
fn an_age_is_written_back_in_seconds_and_read_as_a_chrono_duration() {
    use crate::flow::Age;
    let age = Age::try_from("10m".to_string()).unwrap();
    assert_eq!(String::from(age), "600s");
    assert_eq!(Age::try_from(String::from(age)).unwrap(), age);
    assert_eq!(age.chrono(), chrono::Duration::minutes(10));
    let forever = Age(std::time::Duration::from_secs(u64::MAX));
    assert_eq!(forever.chrono(), chrono::Duration::MAX);
}

/// The names of the `apply` actions are what flow files write and the audit log shows.
#[test]
fn each_apply_action_is_named_as_flow_files_write_it() {
    use crate::flow::definitions::Action;
    for (action, name) in [
        (Action::Rename, "rename"),
        (Action::Delete, "delete"),
        (Action::Disable, "disable"),
        (Action::Enable, "enable"),
        (Action::SetUserDisplayName, "set-user-display-name"),
        (Action::SetPassword, "set-password"),
        (Action::RemovePassword, "remove-password"),
        (Action::DeleteAccount, "delete-account"),
    ] {
        assert_eq!(action.as_str(), name);
        let written: Action = serde_json::from_value(serde_json::json!(name)).unwrap();
        assert_eq!(written, action);
    }
}

/// Loads one self-service flow with `steps` (the inside of its `steps = [...]`).
fn load_self_service(steps: &str) -> Result<(), RegistryError> {
    let flow = format!(
        "[[flow]]\nid = \"f\"\nkind = \"self-service\"\n\
         authorization = [{{ type = \"authenticated-within\", max_age = \"10m\" }}]\n\
         steps = [{steps}]\n"
    );
    load(&[("flows/a.toml", &flow)]).map(|_| ())
}

/// Account actions need the step that supplies their value and no selected credential;
/// credential actions need a selected credential.
#[test]
fn account_actions_need_their_step_and_no_selected_credential() {
    let ok = load_self_service;
    assert!(ok(r#"{ type = "user-display-name-change" }, { type = "apply", action = "set-user-display-name" }"#).is_ok());
    assert!(ok(r#"{ type = "current-password", fido_approval = true }, { type = "new-password" }, { type = "apply", action = "set-password" }"#).is_ok());
    assert!(
        ok(r#"{ type = "fido-approval" }, { type = "apply", action = "remove-password" }"#).is_ok()
    );
    assert!(
        ok(r#"{ type = "fido-approval" }, { type = "apply", action = "delete-account" }"#).is_ok()
    );
    for refused in [
        r#"{ type = "apply", action = "set-password" }"#,
        r#"{ type = "apply", action = "set-user-display-name" }"#,
        r#"{ type = "new-password" }"#,
        r#"{ type = "fido-approval" }, { type = "apply", action = "delete" }"#,
        r#"{ type = "credential-selection" }, { type = "apply", action = "remove-password" }"#,
        r#"{ type = "credential-selection" }, { type = "new-password" }, { type = "apply", action = "set-password" }"#,
    ] {
        assert!(ok(refused).is_err(), "{refused}");
    }
}

/// `end-session` needs a selected session, `end-other-sessions` none; a session selection
/// comes first and ends with an `apply` step; no other action follows it.
#[test]
fn session_actions_need_their_selection_and_nothing_else() {
    let ok = load_self_service;
    for accepted in [
        r#"{ type = "session-selection" }, { type = "apply", action = "end-session" }"#,
        r#"{ type = "session-selection" }, { type = "fido-approval" }, { type = "apply", action = "end-session" }"#,
        r#"{ type = "apply", action = "end-other-sessions" }"#,
        r#"{ type = "fido-approval" }, { type = "apply", action = "end-other-sessions" }"#,
    ] {
        assert!(ok(accepted).is_ok(), "{accepted}");
    }
    for refused in [
        r#"{ type = "apply", action = "end-session" }"#,
        r#"{ type = "session-selection" }"#,
        r#"{ type = "fido-approval" }, { type = "session-selection" }, { type = "apply", action = "end-session" }"#,
        r#"{ type = "credential-selection" }, { type = "apply", action = "end-session" }"#,
        r#"{ type = "session-selection" }, { type = "apply", action = "end-other-sessions" }"#,
        r#"{ type = "session-selection" }, { type = "apply", action = "delete" }"#,
        r#"{ type = "session-selection" }, { type = "apply", action = "delete-account" }"#,
        r#"{ type = "session-selection" }, { type = "new-password" }, { type = "apply", action = "set-password" }"#,
        r#"{ type = "session-selection" }, { type = "fido-registration" }"#,
        // Steps that fit no session flow, even when it ends with its own action.
        r#"{ type = "session-selection" }, { type = "fido-registration" }, { type = "apply", action = "end-session" }"#,
        r#"{ type = "session-selection" }, { type = "new-password" }, { type = "apply", action = "end-session" }"#,
        r#"{ type = "session-selection" }, { type = "user-display-name-change" }, { type = "apply", action = "end-session" }"#,
        r#"{ type = "credential-selection" }, { type = "fido-registration" }, { type = "apply", action = "delete" }"#,
        // A rename needs the new name.
        r#"{ type = "credential-selection" }, { type = "apply", action = "rename" }"#,
    ] {
        assert!(ok(refused).is_err(), "{refused}");
    }
    let err = ok(r#"{ type = "session-selection" }"#).unwrap_err();
    assert!(err.reason.contains("selects a session"), "{err}");
}

#[test]
fn an_unknown_step_type_is_refused_with_the_file_name() {
    let err = load(&[
        ("flows/a.toml", APP),
        (
            "flows/b.toml",
            r#"
[[flow]]
id = "x"
kind = "self-service"
authorization = [{ type = "authenticated-within", max_age = "10m" }]
steps = [{ type = "teleport" }]
"#,
        ),
    ])
    .unwrap_err();
    assert_eq!(err.file, Path::new("flows/b.toml"));
    assert!(err.reason.contains("teleport"), "{err}");
}

#[test]
fn an_unknown_condition_is_refused() {
    let err = load(&[("flows/a.toml", &format!(
        "{APP}\n[[flow]]\nid = \"x\"\nkind = \"self-service\"\nauthorization = [{{ type = \"moon-phase\" }}]\nsteps = [{{ type = \"fido-registration\" }}]\n"
    ))])
    .unwrap_err();
    assert!(err.reason.contains("moon-phase"), "{err}");
}

#[test]
fn a_duplicate_id_is_refused() {
    let err = load(&[("flows/a.toml", APP), ("flows/b.toml", APP)]).unwrap_err();
    assert_eq!(err.file, Path::new("flows/b.toml"));
    assert!(
        err.reason.contains("duplicate application id `default`"),
        "{err}"
    );
}

#[test]
fn an_unknown_key_is_refused() {
    let err = load(&[("flows/a.toml", &APP.replace("max_age", "max_agee"))]).unwrap_err();
    assert!(err.reason.contains("max_agee"), "{err}");
}

#[test]
fn a_zero_duration_is_refused() {
    let err = load(&[("flows/a.toml", &APP.replace("8h", "0s"))]).unwrap_err();
    assert!(err.reason.contains("greater than zero"), "{err}");
}

#[test]
fn a_registration_step_in_an_application_is_refused() {
    let err = load(&[(
        "flows/a.toml",
        &APP.replace(
            r#"{ type = "password", grants = ["PASSWORD_VERIFIED"] }"#,
            r#"{ type = "password", grants = ["P"] }, { type = "fido-registration" }"#,
        ),
    )])
    .unwrap_err();
    assert!(
        err.reason
            .contains("cannot run in an authentication application"),
        "{err}"
    );
}

#[test]
fn a_missing_default_application_is_refused() {
    let err = load(&[("flows/a.toml", &APP.replace("\"default\"", "\"other\""))]).unwrap_err();
    assert!(err.reason.contains("no application `default`"), "{err}");
}

#[test]
fn a_self_service_flow_without_authorization_is_refused() {
    let err = load(&[("flows/a.toml", &format!(
        "{APP}\n[[flow]]\nid = \"x\"\nkind = \"self-service\"\nsteps = [{{ type = \"fido-registration\" }}]\n"
    ))])
    .unwrap_err();
    assert!(err.reason.contains("authorization"), "{err}");
}

/// A self-service flow `x` with these authorization conditions and steps, next to the
/// default application, so only the flow can be at fault.
fn load_flow(authorization: &str, steps: &str) -> Result<Registry, RegistryError> {
    load(&[(
        "flows/a.toml",
        &format!(
            "{APP}\n[[flow]]\nid = \"x\"\nkind = \"self-service\"\nauthorization = [{authorization}]\nsteps = [{steps}]\n"
        ),
    )])
}

const RECENT: &str = r#"{ type = "authenticated-within", max_age = "10m" }"#;

/// Only a folder with neither applications nor flows is refused: a deployment may run
/// logins alone, with no self-service or sign-up flow.
#[test]
fn a_flows_folder_holding_only_applications_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("applications.toml"), APP).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a flow file").unwrap();
    let registry = Registry::load(dir.path()).unwrap();
    assert!(registry.application("default").is_some());
    assert_eq!(registry.flows().count(), 0);
}

#[test]
fn a_flows_folder_without_flow_files_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), APP).unwrap();
    let err = Registry::load(dir.path()).unwrap_err();
    assert_eq!(err.file, dir.path());
    assert!(err.reason.contains("no flow files"), "{err}");
}

#[test]
fn applications_and_flows_are_found_by_their_own_id_among_several() {
    let registry = load(&[
        ("flows/a.toml", APP),
        (
            "flows/b.toml",
            &format!(
                "{}\n[[flow]]\nid = \"one\"\nkind = \"self-service\"\nauthorization = [{RECENT}]\nsteps = [{{ type = \"fido-registration\" }}]\n\n[[flow]]\nid = \"two\"\nkind = \"self-service\"\nauthorization = [{RECENT}]\nsteps = [{{ type = \"fido-registration\" }}]\n",
                APP.replace("\"default\"", "\"other\"")
            ),
        ),
    ])
    .unwrap();
    for id in ["default", "other"] {
        assert_eq!(registry.application(id).unwrap().id.as_str(), id);
    }
    for id in ["one", "two"] {
        assert_eq!(registry.flow(id).unwrap().id.as_str(), id);
    }
    assert!(registry.application("one").is_none());
    assert!(registry.flow("default").is_none());
    let applications: Vec<&str> = registry.applications().map(|a| a.id.as_str()).collect();
    assert_eq!(applications, ["default", "other"]);
    let flows: Vec<&str> = registry.flows().map(|f| f.id.as_str()).collect();
    assert_eq!(flows, ["one", "two"]);
}

#[test]
fn a_password_step_after_the_first_is_refused() {
    let err = load(&[(
        "flows/a.toml",
        &APP.replace(
            r#"{ type = "password", grants = ["PASSWORD_VERIFIED"] }"#,
            r#"{ type = "fido-authentication", grants = ["F"] }, { type = "password" }"#,
        ),
    )])
    .unwrap_err();
    assert!(
        err.reason.contains("a `password` step must come first"),
        "{err}"
    );
}

/// Only `rename` also needs a display-name step; every action needs a selected credential.
#[test]
fn an_apply_step_without_a_credential_selection_is_refused() {
    let err = load_flow(RECENT, r#"{ type = "apply", action = "delete" }"#).unwrap_err();
    assert!(
        err.reason
            .contains("step type `apply` cannot run at position 1"),
        "{err}"
    );
}

#[test]
fn a_registration_step_must_offer_only_verifiable_algorithms_and_at_least_one() {
    let step = |algorithms: &str| {
        load_flow(
            RECENT,
            &format!(r#"{{ type = "fido-registration", algorithms = {algorithms} }}"#),
        )
    };
    let err = step("[]").unwrap_err();
    assert!(err.reason.contains("at least one algorithm"), "{err}");
    let err = step("[-7, -999]").unwrap_err();
    assert!(
        err.reason.contains("algorithm -999 cannot be verified"),
        "{err}"
    );
    assert!(step("[-7, -8]").is_ok());
}

#[test]
fn an_any_of_condition_needs_conditions_at_every_depth() {
    let flow = |authorization: &str| load_flow(authorization, r#"{ type = "fido-registration" }"#);
    let err = flow(r#"{ type = "any-of", conditions = [] }"#).unwrap_err();
    assert!(
        err.reason
            .contains("an `any-of` condition needs at least one condition"),
        "{err}"
    );
    let err = flow(&format!(
        r#"{{ type = "any-of", conditions = [{RECENT}, {{ type = "any-of", conditions = [] }}] }}"#
    ))
    .unwrap_err();
    assert!(
        err.reason
            .contains("an `any-of` condition needs at least one condition"),
        "{err}"
    );
    let registry = flow(&format!(
        r#"{{ type = "any-of", conditions = [{RECENT}, {{ type = "any-of", conditions = [{{ type = "user-has-password" }}] }}] }}"#
    ))
    .unwrap();
    assert!(matches!(
        registry.flow("x").unwrap().authorization[..],
        [Condition::AnyOf { .. }]
    ));
}
