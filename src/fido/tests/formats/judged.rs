//! Across formats: the checks an observed refusal reports, and a stored attestation object judged again.

use super::android_key::{android_key, tee_lists};
use super::apple::apple;
use super::safetynet::SafetyNet;
use super::tpm::{tpm, TpmSpoil};
use super::*;

#[test]
fn an_observed_refusal_reports_the_failed_check_and_those_not_reached() {
    let reg = tpm(TpmSpoil {
        extra_data: true,
        ..TpmSpoil::default()
    });
    let origins = origins();
    let anchors = TrustAnchors::empty();
    let exp = expectations(&origins, &anchors);
    let mut checks = Vec::new();
    verify_registration_observed(&reg.json(), &exp, &mut |c| checks.push(c)).unwrap_err();
    let outcome = |name: &str| {
        checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.outcome)
            .unwrap_or_else(|| panic!("{name} not reported: {checks:?}"))
    };
    assert_eq!(outcome("challenge"), CheckOutcome::Pass);
    assert_eq!(outcome("tpm.pubArea"), CheckOutcome::Pass);
    assert_eq!(outcome("attestationStatement"), CheckOutcome::Fail);
    assert_eq!(outcome("attestationTrust"), CheckOutcome::Skipped);
    assert_eq!(
        checks
            .iter()
            .filter(|c| c.outcome == CheckOutcome::Fail)
            .count(),
        1
    );
}

/// The stored attestation object of every format is judged again as its verified registration
/// was (android-safetynet from the certificates of its JWS).
#[test]
fn every_format_is_judged_from_its_stored_object_as_at_registration() {
    let (apple_reg, apple_ca) = apple(None, false);
    let apple_anchors = TrustAnchors::from_pem(&apple_ca.pem()).unwrap();
    let none = TrustAnchors::empty();
    for (reg, anchors, trusted) in [
        (apple_reg, &apple_anchors, true),
        (tpm(TpmSpoil::default()), &none, false),
        (android_key(None, tee_lists()), &none, false),
        (SafetyNet::good().reg(), &none, false),
    ] {
        let verified = verify_with(&reg, FormatPolicy::default(), anchors).unwrap();
        let judged = crate::fido::judge(&verified, None, anchors, now());
        assert_eq!(judged.trusted(), trusted, "{}", verified.format);
        assert!(!verified.attestation_statements[0].chain.is_empty());
        let stored = crate::fido::judge_stored(&verified.attestation_object, None, anchors, now());
        assert_eq!(stored, Some(judged), "{}", verified.format);
    }
}
