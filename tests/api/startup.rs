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
    settings.server.flows_dir = Some(flows.path().to_path_buf());
    let err = Application::build(settings, Clock::system())
        .err()
        .expect("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("zz-broken.toml") && text.contains("teleport"),
        "{text}"
    );
}

#[tokio::test]
async fn an_evidence_key_that_is_not_a_p256_pkcs8_pem_stops_the_start() {
    let data = tempfile::tempdir().unwrap();
    let key = data.path().join("evidence.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let mut settings = Settings::for_tests(data.path());
    settings.evidence.signing_key = Some(key);
    let err = Application::build(settings.clone(), Clock::system())
        .err()
        .expect("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("evidence.signing_key") && text.contains("evidence.pem"),
        "{text}"
    );
    settings.evidence.signing_key = Some(data.path().join("missing.pem"));
    let err = Application::build(settings, Clock::system())
        .err()
        .expect("refused");
    assert!(format!("{err:#}").contains("cannot read"), "{err:#}");
}

/// Without `evidence.signing_key` the server makes its key once, in the data directory, and
/// signs with the same key after a restart; a configured key is the one served.
#[tokio::test]
async fn the_evidence_key_is_made_once_and_kept_or_taken_from_the_configuration() {
    let app = crate::common::app::spawn_app_with(|_| {}).await;
    let served = |base: String| async move {
        reqwest::get(format!("{base}/.well-known/fidoflow/evidence-key.pem"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let first = served(app.base.clone()).await;
    let file = app
        .data_dir
        .path()
        .join(fidoflow::startup::EVIDENCE_KEY_FILE);
    let pem = std::fs::read_to_string(&file).expect("the key file was made");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let app = app.restart().await;
    assert_eq!(served(app.base.clone()).await, first);
    let own = fidoflow::engine::EvidenceKey::from_pem(&pem).unwrap();
    assert_eq!(own.public_pem(), first);

    let (configured, configured_pem) = fidoflow::engine::EvidenceKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.pem");
    std::fs::write(&path, configured_pem).unwrap();
    let other =
        crate::common::app::spawn_app_with(move |s| s.evidence.signing_key = Some(path)).await;
    assert_eq!(served(other.base.clone()).await, configured.public_pem());
}
