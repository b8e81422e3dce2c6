//! Start-up refuses what can never work, naming the file or key.

use fidoflow::clock::Clock;
use fidoflow::config::{AttestationPolicyKind, Settings};
use fidoflow::startup::Application;

#[tokio::test]
async fn a_require_trusted_policy_with_a_flow_asking_for_no_attestation_stops_the_start() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_tests(data.path());
    settings.attestation.policy = AttestationPolicyKind::RequireTrusted;
    let err = Application::build(settings, Clock::system())
        .err()
        .expect("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("attestation.policy") && text.contains("fido-registration"),
        "{text}"
    );
}

#[tokio::test]
async fn a_broken_flow_file_stops_the_start_with_its_name_and_reason() {
    let data = tempfile::tempdir().unwrap();
    let flows = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/flows/applications.toml"),
        flows.path().join("applications.toml"),
    )
    .unwrap();
    std::fs::write(
        flows.path().join("zz-broken.toml"),
        "[[flow]]\nid = \"x\"\nkind = \"self-service\"\nauthorization = [{ type = \"authenticated-within\", max_age = \"10m\" }]\nsteps = [{ type = \"teleport\" }]\n",
    )
    .unwrap();
    let mut settings = Settings::for_tests(data.path());
    settings.server.flows_dir = flows.path().to_path_buf();
    let err = Application::build(settings, Clock::system())
        .err()
        .expect("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("zz-broken.toml") && text.contains("teleport"),
        "{text}"
    );
}
