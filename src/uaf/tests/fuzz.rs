//! No input makes the UAF parsers panic: random bytes, and valid assertions mutated, through
//! the TLV reader and both assertion parsers; random JSON-ish strings through the response
//! parser. Same style as `fido::tests::fuzz` (proptest, `FIDOFLOW_FUZZ_CASES` raises the
//! number of cases).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

use super::*;
use crate::uaf::{
    check_public_key, parse_authentication, parse_registration, parse_response,
    verify_attestation_signature, Op,
};

fn config() -> Config {
    Config {
        cases: std::env::var("FIDOFLOW_FUZZ_CASES")
            .ok()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Flips, overwrites, truncates or extends `data` a few times.
fn mutate(mut data: Vec<u8>, edits: &[(Index, u8, u8)]) -> Vec<u8> {
    for (at, byte, op) in edits {
        if data.is_empty() {
            data.push(*byte);
            continue;
        }
        let i = at.index(data.len());
        match op % 4 {
            0 => data[i] ^= 1 << (byte % 8),
            1 => data[i] = *byte,
            2 => data.truncate(i),
            _ => data.insert(i, *byte),
        }
    }
    data
}

fn everything(data: &[u8]) {
    let _ = crate::uaf::tlv::read(data);
    if let Ok(reg) = parse_registration(data) {
        let _ = check_public_key(reg.sign_alg, reg.key_encoding, &reg.public_key);
        let _ = verify_attestation_signature(&reg);
    }
    let _ = parse_authentication(data);
}

fn seeds() -> Vec<Vec<u8>> {
    let key = P256::generate();
    let fields = Fields::new(vec![1; 32], key.point());
    vec![
        surrogate_assertion(&fields, &key),
        auth_assertion(&fields, &key),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic(data in vec(any::<u8>(), 0..512)) {
        everything(&data);
    }

    #[test]
    fn mutated_assertions_never_panic(
        which in 0usize..2,
        edits in vec((any::<Index>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let seed = seeds().swap_remove(which);
        everything(&mutate(seed, &edits));
    }

    #[test]
    fn random_tlv_headers_never_panic(tags in vec((any::<u16>(), 0u16..16), 0..12)) {
        let mut data = Vec::new();
        for (tag, len) in tags {
            data.extend_from_slice(&tag.to_le_bytes());
            data.extend_from_slice(&len.to_le_bytes());
            data.extend(std::iter::repeat_n(0x3E, usize::from(len % 5)));
        }
        everything(&data);
        everything(&tlv(TAG_UAFV1_REG_ASSERTION, &data));
        everything(&tlv(TAG_UAFV1_AUTH_ASSERTION, &data));
    }

    #[test]
    fn random_responses_never_panic(fc in ".{0,64}", assertion in "[A-Za-z0-9_=-]{0,64}", op in "(Reg|Auth|Dereg|x)") {
        let message = serde_json::json!([{
            "header": { "upv": { "major": 1, "minor": 1 }, "op": op, "appID": APP_ID },
            "fcParams": fc,
            "assertions": [{ "assertionScheme": "UAFV1TLV", "assertion": assertion }],
        }]);
        let _ = parse_response(&message, Op::Reg);
        let _ = parse_response(&message, Op::Auth);
    }
}
