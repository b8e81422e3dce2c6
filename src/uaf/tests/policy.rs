//! Judging authenticators against UAF policies (`policy.rs`): each MatchCriteria member, the
//! "any of" reading of bit flags, `USER_VERIFY_ALL`, unknown metadata, accepted sets that
//! need several authenticators and disallowed criteria.

use super::AAID;
use crate::fido::mds::Characteristics;
use crate::uaf::tlv::{TAG_ATTESTATION_BASIC_FULL, TAG_ATTESTATION_BASIC_SURROGATE};
use crate::uaf::{
    attestation_type, Attestation, Authenticator, MatchCriteria, Policy, PolicyRefusal,
};

/// Fingerprint or (passcode and presence); hardware key in a TEE; on-chip matcher; internal.
fn phone() -> Characteristics {
    Characteristics {
        key_protection: 0x2 | 0x4,
        matcher_protection: 0x4,
        attachment_hint: 0x1,
        tc_display: 0x1 | 0x4,
        user_verification: vec![0x2, 0x4 | 0x1],
    }
}

fn answered(characteristics: Option<&Characteristics>) -> Authenticator<'_> {
    Authenticator {
        aaid: AAID,
        key_id: b"key",
        sign_alg: 1,
        attestation_type: TAG_ATTESTATION_BASIC_FULL,
        authenticator_version: 3,
        characteristics,
    }
}

fn meets(criteria: MatchCriteria) -> bool {
    criteria.matches(&answered(Some(&phone())))
}

#[test]
fn empty_criteria_match_anything_and_each_identity_member_narrows() {
    assert!(meets(MatchCriteria::default()));
    assert!(MatchCriteria::default().matches(&answered(None)));
    let aaid = |l: &[&str]| MatchCriteria {
        aaid: Some(l.iter().map(|s| s.to_string()).collect()),
        ..MatchCriteria::default()
    };
    assert!(meets(aaid(&["0000#0000", "ffff#0001"])));
    assert!(!meets(aaid(&["FFFF#0002"])));
    let vendor = |v: &str| MatchCriteria {
        vendor_id: Some(vec![v.into()]),
        ..MatchCriteria::default()
    };
    assert!(meets(vendor("ffff")));
    assert!(!meets(vendor("FFFE")));
    let key_ids = |id: &str| MatchCriteria {
        key_ids: Some(vec![id.into()]),
        ..MatchCriteria::default()
    };
    assert!(meets(key_ids("a2V5")));
    assert!(!meets(key_ids("a2V6")));
}

#[test]
fn what_the_assertion_carries_is_judged_without_metadata() {
    let bare = |c: MatchCriteria| c.matches(&answered(None));
    let algs = |a: Vec<u16>| MatchCriteria {
        authentication_algorithms: Some(a),
        ..MatchCriteria::default()
    };
    assert!(bare(algs(vec![2, 1])));
    assert!(!bare(algs(vec![2])));
    let types = |t: Vec<u16>| MatchCriteria {
        attestation_types: Some(t),
        ..MatchCriteria::default()
    };
    assert!(bare(types(vec![TAG_ATTESTATION_BASIC_FULL])));
    assert!(!bare(types(vec![TAG_ATTESTATION_BASIC_SURROGATE])));
    let schemes = |s: &str| MatchCriteria {
        assertion_schemes: Some(vec![s.into()]),
        ..MatchCriteria::default()
    };
    assert!(bare(schemes("UAFV1TLV")));
    assert!(!bare(schemes("UAFV2TLV")));
    let version = |v: u16| MatchCriteria {
        authenticator_version: Some(v),
        ..MatchCriteria::default()
    };
    assert!(bare(version(2)));
    assert!(bare(version(3)));
    assert!(!bare(version(4)));
}

#[test]
fn flags_are_met_by_any_shared_bit_and_need_the_metadata() {
    type Set = fn(u32) -> MatchCriteria;
    let members: [(Set, u32, u32); 4] = [
        (
            |b| MatchCriteria {
                key_protection: Some(b as u16),
                ..MatchCriteria::default()
            },
            0x8 | 0x4,
            0x1 | 0x8,
        ),
        (
            |b| MatchCriteria {
                matcher_protection: Some(b as u16),
                ..MatchCriteria::default()
            },
            0x4,
            0x1 | 0x2,
        ),
        (
            |b| MatchCriteria {
                attachment_hint: Some(b),
                ..MatchCriteria::default()
            },
            0x1 | 0x2,
            0x2 | 0x10,
        ),
        (
            |b| MatchCriteria {
                tc_display: Some(b as u16),
                ..MatchCriteria::default()
            },
            0x4,
            0x8,
        ),
    ];
    for (i, (set, met, unmet)) in members.into_iter().enumerate() {
        assert!(meets(set(met)), "member {i}");
        assert!(!meets(set(unmet)), "member {i}");
        assert!(
            !set(met).matches(&answered(None)),
            "member {i} without metadata"
        );
        // A criterion of no bits is met only by an authenticator with none.
        assert!(!meets(set(0)), "member {i}");
        assert!(
            set(0).matches(&answered(Some(&Characteristics::default()))),
            "member {i}"
        );
    }
}

#[test]
fn user_verification_is_any_method_unless_all_is_set() {
    let uv = |b: u32| MatchCriteria {
        user_verification: Some(b),
        ..MatchCriteria::default()
    };
    // Any: fingerprint, or passcode (in the second alternative), or one of several.
    assert!(meets(uv(0x2)));
    assert!(meets(uv(0x4)));
    assert!(meets(uv(0x10 | 0x4)));
    assert!(!meets(uv(0x10)));
    // All: one alternative must combine every named method.
    assert!(meets(uv(0x400 | 0x4 | 0x1)));
    assert!(meets(uv(0x400 | 0x2)));
    assert!(!meets(uv(0x400 | 0x2 | 0x4)));
    assert!(!meets(uv(0x400 | 0x4 | 0x10)));
    assert!(!uv(0x2).matches(&answered(None)));
    assert!(!uv(0x400 | 0x2).matches(&answered(None)));
}

#[test]
fn every_member_must_be_met() {
    let both = MatchCriteria {
        aaid: Some(vec![AAID.into()]),
        key_protection: Some(0x2),
        user_verification: Some(0x2),
        ..MatchCriteria::default()
    };
    assert!(meets(both.clone()));
    assert!(!meets(MatchCriteria {
        user_verification: Some(0x10),
        ..both.clone()
    }));
    assert!(!meets(MatchCriteria {
        aaid: Some(vec!["0000#0000".into()]),
        ..both
    }));
}

#[test]
fn a_policy_accepts_a_set_met_in_full_and_refuses_what_is_disallowed() {
    let phone = phone();
    let one = [answered(Some(&phone))];
    let hardware = MatchCriteria {
        key_protection: Some(0x2),
        ..MatchCriteria::default()
    };
    let external = MatchCriteria {
        attachment_hint: Some(0x2),
        ..MatchCriteria::default()
    };
    let policy = |accepted: Vec<Vec<MatchCriteria>>, disallowed: Vec<MatchCriteria>| Policy {
        accepted,
        disallowed,
    };
    assert_eq!(
        policy(vec![vec![hardware.clone()]], vec![]).judge(&one),
        Ok(())
    );
    assert_eq!(
        policy(vec![vec![external.clone()], vec![hardware.clone()]], vec![]).judge(&one),
        Ok(())
    );
    // A set of two criteria wants both met, here by one authenticator or another.
    let pair = vec![vec![hardware.clone(), external.clone()]];
    assert_eq!(
        policy(pair.clone(), vec![]).judge(&one),
        Err(PolicyRefusal::NotAccepted)
    );
    let token = Characteristics {
        attachment_hint: 0x2,
        ..Characteristics::default()
    };
    let two = [answered(Some(&phone)), answered(Some(&token))];
    assert_eq!(policy(pair, vec![]).judge(&two), Ok(()));
    assert_eq!(
        policy(vec![], vec![]).judge(&one),
        Err(PolicyRefusal::NotAccepted)
    );
    let software = MatchCriteria {
        key_protection: Some(0x1),
        ..MatchCriteria::default()
    };
    assert_eq!(
        policy(
            vec![vec![hardware.clone()]],
            vec![software.clone(), hardware.clone()]
        )
        .judge(&one),
        Err(PolicyRefusal::Disallowed(1))
    );
    assert_eq!(
        policy(vec![vec![hardware]], vec![software.clone()]).judge(&one),
        Ok(())
    );
    // Unknown metadata is not excluded by a criterion that needs it.
    assert_eq!(
        policy(Policy::any().accepted, vec![software]).judge(&[answered(None)]),
        Ok(())
    );
}

#[test]
fn the_attestation_type_is_its_tag() {
    assert_eq!(
        attestation_type(&Attestation::BasicFull {
            signature: vec![],
            certificates: vec![]
        }),
        TAG_ATTESTATION_BASIC_FULL
    );
    assert_eq!(
        attestation_type(&Attestation::Surrogate { signature: vec![] }),
        TAG_ATTESTATION_BASIC_SURROGATE
    );
}
