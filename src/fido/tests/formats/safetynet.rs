//! The `android-safetynet` format: the JWS, its certificate, nonce, integrity verdicts and
//! timestamp, and the policies that relax the last two.

use super::*;

pub(super) struct SafetyNet {
    /// The leaf's subjectAltName dNSName.
    hostname: &'static str,
    /// The leaf's subject CN.
    common_name: &'static str,
    ver: &'static str,
    nonce: Option<String>,
    timestamp_ms: i64,
    cts: bool,
    basic_integrity: bool,
}

impl SafetyNet {
    pub(super) fn good() -> Self {
        Self {
            hostname: "attest.android.com",
            common_name: "attest.android.com",
            ver: "201813046",
            nonce: None,
            timestamp_ms: now().timestamp_millis() - 5_000,
            cts: true,
            basic_integrity: true,
        }
    }

    pub(super) fn reg(&self) -> Reg {
        let ca = self_signed(ca_params("SafetyNet Test CA", None));
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name);
        params.subject_alt_names = vec![SanType::DnsName(self.hostname.try_into().unwrap())];
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2030, 1, 1);
        let leaf = issue(params, &ca);
        let mut reg = Reg::with(Att::None);
        let std = base64::engine::general_purpose::STANDARD;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let nonce = self
            .nonce
            .clone()
            .unwrap_or_else(|| std.encode(sha256(&signed_data(&reg))));
        let header = json!({"alg": "ES256", "x5c": [std.encode(leaf.der()), std.encode(ca.der())]});
        let payload = json!({
            "nonce": nonce,
            "timestampMs": self.timestamp_ms,
            "ctsProfileMatch": self.cts,
            "basicIntegrity": self.basic_integrity,
            "apkPackageName": "com.google.android.gms",
        });
        let signing_input = format!(
            "{}.{}",
            url.encode(header.to_string()),
            url.encode(payload.to_string())
        );
        let rng = ring::rand::SystemRandom::new();
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &leaf.key.serialize_der(),
            &rng,
        )
        .unwrap();
        let sig = signer.sign(&rng, signing_input.as_bytes()).unwrap();
        let jws = format!("{signing_input}.{}", url.encode(sig.as_ref()));
        reg.att = Att::Raw {
            fmt: "android-safetynet".into(),
            stmt: Cbor::Map(vec![
                (text("ver"), text(self.ver)),
                (text("response"), Cbor::Bytes(jws.into_bytes())),
            ]),
        };
        reg
    }
}

#[test]
fn a_safetynet_attestation_verifies() {
    let ok = verify(&SafetyNet::good().reg()).unwrap();
    assert_eq!(ok.format, "android-safetynet");
    assert_eq!(ok.attestation_type, AttestationType::Basic);
}

#[test]
fn a_safetynet_attestation_with_another_nonce_is_refused() {
    let sn = SafetyNet {
        nonce: Some("bm90IHRoZSBub25jZQ==".into()),
        ..SafetyNet::good()
    };
    let (check, why) = refusal(&sn.reg());
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("nonce"), "{why}");
}

#[test]
fn a_safetynet_certificate_for_another_host_is_refused() {
    let sn = SafetyNet {
        hostname: "attest.example.com",
        common_name: "attest.example.com",
        ..SafetyNet::good()
    };
    let (check, why) = refusal(&sn.reg());
    assert_eq!(check, "attestationCertificate");
    assert!(why.contains("attest.android.com"), "{why}");
}

#[test]
fn a_safetynet_certificate_naming_the_host_in_its_subject_alt_name_alone_is_accepted() {
    let sn = SafetyNet {
        common_name: "Some Other Name",
        ..SafetyNet::good()
    };
    verify(&sn.reg()).expect("the dNSName names attest.android.com");
}

#[test]
fn a_safetynet_statement_with_an_empty_ver_is_refused() {
    let sn = SafetyNet {
        ver: "",
        ..SafetyNet::good()
    };
    let (check, why) = refusal(&sn.reg());
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("non-empty \"ver\""), "{why}");
}

#[test]
fn a_safetynet_timestamp_exactly_60_s_off_is_accepted_and_a_millisecond_more_is_not() {
    for off in [-60_000, 60_000] {
        let sn = SafetyNet {
            timestamp_ms: now().timestamp_millis() + off,
            ..SafetyNet::good()
        };
        verify(&sn.reg()).unwrap_or_else(|e| panic!("{off} ms off: {e}"));
    }
    let sn = SafetyNet {
        timestamp_ms: now().timestamp_millis() - 60_001,
        ..SafetyNet::good()
    };
    let (_, why) = refusal(&sn.reg());
    assert!(why.contains("timestampMs"), "{why}");
}

#[test]
fn a_stale_safetynet_timestamp_is_refused_unless_the_policy_skips_it() {
    let sn = SafetyNet {
        timestamp_ms: now().timestamp_millis() - 120_000,
        ..SafetyNet::good()
    };
    let reg = sn.reg();
    let (check, why) = refusal(&reg);
    assert_eq!(check, "attestationStatement");
    assert!(why.contains("timestampMs"), "{why}");
    let lenient = FormatPolicy {
        safetynet_check_timestamp: false,
        ..FormatPolicy::default()
    };
    verify_with(&reg, lenient, &TrustAnchors::empty()).expect("timestamp not checked");
}

#[test]
fn a_safetynet_attestation_without_cts_profile_match_is_refused_unless_the_policy_allows_it() {
    let sn = SafetyNet {
        cts: false,
        ..SafetyNet::good()
    };
    let reg = sn.reg();
    let (_, why) = refusal(&reg);
    assert!(why.contains("ctsProfileMatch"), "{why}");
    let lenient = FormatPolicy {
        safetynet_require_cts_profile_match: false,
        ..FormatPolicy::default()
    };
    verify_with(&reg, lenient, &TrustAnchors::empty()).expect("cts not required");
}

/// A SafetyNet registration whose `timestampMs` is `off_ms` from the verification time.
fn at_offset(off_ms: i64) -> Reg {
    SafetyNet {
        timestamp_ms: now().timestamp_millis() + off_ms,
        ..SafetyNet::good()
    }
    .reg()
}

fn max_age(seconds: u64) -> FormatPolicy {
    FormatPolicy {
        safetynet_max_age: std::time::Duration::from_secs(seconds),
        ..FormatPolicy::default()
    }
}

#[test]
fn the_safetynet_timestamp_window_is_the_policys_max_age() {
    let hour = max_age(3600);
    for off in [-3_600_000, 3_600_000] {
        verify_with(&at_offset(off), hour, &TrustAnchors::empty())
            .unwrap_or_else(|e| panic!("{off} ms off: {e}"));
    }
    for off in [-3_600_001, 3_600_001] {
        let e = verify_with(&at_offset(off), hour, &TrustAnchors::empty()).unwrap_err();
        assert_eq!(e.check(), "attestationStatement");
        assert!(e.to_string().contains("(at most 3600 s allowed)"), "{e}");
    }
    let e = verify_with(&at_offset(-7_200_000), hour, &TrustAnchors::empty()).unwrap_err();
    assert!(
        e.to_string()
            .contains("timestampMs is 7200 s from the verification time (at most 3600 s allowed)"),
        "{e}"
    );
    // The default window is 60 s: two minutes off is refused, as above, naming it.
    let (_, why) = refusal(&at_offset(-120_000));
    assert!(
        why.contains("120 s from") && why.contains("at most 60 s"),
        "{why}"
    );
}

#[test]
fn a_safetynet_timestamp_at_the_ends_of_the_integers_is_refused_without_overflow() {
    for ts in [i64::MIN, i64::MAX] {
        let sn = SafetyNet {
            timestamp_ms: ts,
            ..SafetyNet::good()
        };
        let (check, why) = refusal(&sn.reg());
        assert_eq!(check, "attestationStatement");
        assert!(why.contains("timestampMs"), "{why}");
    }
}

#[test]
fn the_safetynet_checks_are_reported_with_the_window_and_the_policy() {
    let observed = |reg: &Reg, formats: FormatPolicy| {
        let origins = origins();
        let anchors = TrustAnchors::empty();
        let mut exp = expectations(&origins, &anchors);
        exp.formats = formats;
        let mut checks = Vec::new();
        verify_registration_observed(&reg.json(), &exp, &mut |c| checks.push(c)).unwrap();
        checks
    };
    let checks = observed(&at_offset(-5_000), max_age(90));
    let find = |checks: &[crate::fido::Check], name: &str| {
        let c = checks.iter().find(|c| c.name == name).expect(name);
        (c.outcome, c.detail.clone())
    };
    assert_eq!(
        find(&checks, "android-safetynet.timestamp"),
        (
            CheckOutcome::Pass,
            "within 90 s of the verification time (5000 ms off)".to_string()
        )
    );
    assert_eq!(
        find(&checks, "android-safetynet.basicIntegrity").0,
        CheckOutcome::Pass
    );
    let lenient = FormatPolicy {
        safetynet_check_timestamp: false,
        safetynet_require_cts_profile_match: false,
        ..FormatPolicy::default()
    };
    let checks = observed(&at_offset(-86_400_000), lenient);
    assert_eq!(
        find(&checks, "android-safetynet.timestamp").0,
        CheckOutcome::Skipped
    );
    assert_eq!(
        find(&checks, "android-safetynet.ctsProfileMatch").0,
        CheckOutcome::Skipped
    );
}

#[test]
fn a_safetynet_attestation_without_basic_integrity_is_refused_whatever_the_policy() {
    let sn = SafetyNet {
        cts: false,
        basic_integrity: false,
        ..SafetyNet::good()
    };
    let reg = sn.reg();
    let lenient = FormatPolicy {
        safetynet_check_timestamp: false,
        safetynet_require_cts_profile_match: false,
        ..FormatPolicy::default()
    };
    let e = verify_with(&reg, lenient, &TrustAnchors::empty()).unwrap_err();
    assert_eq!(e.check(), "attestationStatement");
    assert!(e.to_string().contains("basicIntegrity: true"), "{e}");
    // With ctsProfileMatch true but basicIntegrity false (no real JWS says so), still refused.
    let sn = SafetyNet {
        basic_integrity: false,
        ..SafetyNet::good()
    };
    let (_, why) = refusal(&sn.reg());
    assert!(why.contains("basicIntegrity"), "{why}");
}
