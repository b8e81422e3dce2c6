use serde_json::{json, Value};

use super::sha256;
use crate::fido::transaction::{
    check_message, check_transaction, refuse_duplicate_members, ContentError, SignedContent,
};

/// The worked example of the README: a message and a transaction.
fn example() -> SignedContent {
    SignedContent {
        authentication_message: Some("Pay ACME Corp 1250.00 EUR".into()),
        transaction: Some(json!({"payee": "ACME Corp", "currency": "EUR", "amount": "1250.00"})),
        payment: None,
    }
}

/// The nonce of the worked example: 0x00, 0x01, …, 0x1f.
fn nonce() -> Vec<u8> {
    (0u8..32).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn field(result: Result<(), ContentError>) -> String {
    result.expect_err("must be refused").field
}

#[test]
fn the_worked_example_canonicalises_with_members_sorted_and_no_whitespace() {
    assert_eq!(
        example().canonical(),
        br#"{"authenticationMessage":"Pay ACME Corp 1250.00 EUR","transaction":{"amount":"1250.00","currency":"EUR","payee":"ACME Corp"}}"#
    );
}

#[test]
fn the_worked_example_challenge_is_sha256_of_the_nonce_and_the_content_hash() {
    let content = example();
    let mut input = nonce();
    input.extend_from_slice(&sha256(&content.canonical()));
    let challenge = content.challenge(&nonce());
    assert_eq!(challenge.to_vec(), sha256(&input));
    assert_eq!(
        hex(&sha256(&content.canonical())),
        "d07577542eed970e8f0c955838aac40810d02c7c9f7e931f0669ca985584462a"
    );
    assert_eq!(
        hex(&challenge),
        "5764370dc070a819499794be3a1547fc718075dd64e9c1ae86ed27d9ae764529"
    );
}

#[test]
fn another_nonce_or_amount_gives_another_challenge() {
    let content = example();
    assert_ne!(content.challenge(&nonce()), content.challenge(&[0; 32]));
    let mut doctored = example();
    doctored.transaction =
        Some(json!({"payee": "ACME Corp", "currency": "EUR", "amount": "1250.01"}));
    assert_ne!(content.challenge(&nonce()), doctored.challenge(&nonce()));
}

#[test]
fn absent_members_are_left_out_of_the_canonical_form() {
    let message_only = SignedContent {
        authentication_message: Some("Log in to ACME".into()),
        ..SignedContent::default()
    };
    assert_eq!(
        message_only.canonical(),
        br#"{"authenticationMessage":"Log in to ACME"}"#
    );
    let payment_only = SignedContent {
        payment: Some(json!({"total": {"value": "5.00", "currency": "EUR"}, "payeeName": "Shop"})),
        ..SignedContent::default()
    };
    assert_eq!(
        payment_only.canonical(),
        br#"{"payment":{"payeeName":"Shop","total":{"currency":"EUR","value":"5.00"}}}"#
    );
    assert_eq!(SignedContent::default().canonical(), b"{}");
    assert!(SignedContent::default().is_empty());
    assert!(!message_only.is_empty() && !payment_only.is_empty());
}

#[test]
fn the_canonical_form_is_the_same_whatever_the_member_order_of_the_text() {
    let reordered: SignedContent = serde_json::from_str(
        r#"{ "transaction": {"amount": "1250.00", "payee": "ACME Corp", "currency": "EUR"},
             "authenticationMessage": "Pay ACME Corp 1250.00 EUR" }"#,
    )
    .unwrap();
    assert_eq!(reordered.canonical(), example().canonical());
}

#[test]
fn a_transaction_of_strings_integers_and_small_nesting_passes() {
    let ok = json!({
        "amount": "1250.00",
        "items": [{"sku": "A-1", "quantity": 3}, {"sku": "B-2", "quantity": -1}],
        "recurring": false,
        "reference": null,
        "limit": 9_007_199_254_740_991_u64,
    });
    assert_eq!(check_transaction(&ok), Ok(()));
}

#[test]
fn a_non_integer_number_is_refused_naming_its_member_path() {
    let err = check_transaction(&json!({"amount": 1250.5})).unwrap_err();
    assert_eq!(err.field, "transaction.amount");
    assert!(err.message.contains("not an integer"), "{err}");
    let nested = json!({"items": [{"sku": "A"}, {"price": 9.99}]});
    assert_eq!(
        field(check_transaction(&nested)),
        "transaction.items[1].price"
    );
}

#[test]
fn a_number_with_an_exponent_is_refused_even_when_its_value_is_whole() {
    let value: Value = serde_json::from_str(r#"{"amount": 1e3}"#).unwrap();
    assert_eq!(field(check_transaction(&value)), "transaction.amount");
}

#[test]
fn an_integer_beyond_two_to_the_53_is_refused() {
    let err = check_transaction(&json!({"id": 9_007_199_254_740_993_u64})).unwrap_err();
    assert_eq!(err.field, "transaction.id");
    assert!(err.message.contains("as a string"), "{err}");
    assert_eq!(
        field(check_transaction(
            &json!({"id": -9_007_199_254_740_992_i64})
        )),
        "transaction.id"
    );
}

#[test]
fn a_transaction_over_4096_canonical_bytes_is_refused() {
    // {"note":"…"} is 11 bytes around the text.
    let fits = json!({"note": "x".repeat(4096 - 11)});
    assert_eq!(check_transaction(&fits), Ok(()));
    let over = json!({"note": "x".repeat(4096 - 10)});
    let err = check_transaction(&over).unwrap_err();
    assert_eq!(err.field, "transaction");
    assert!(err.message.contains("4097 bytes"), "{err}");
}

#[test]
fn nesting_deeper_than_8_levels_is_refused() {
    let nest = |levels: usize| {
        let mut value = json!({});
        for _ in 1..levels {
            value = json!({ "a": value });
        }
        value
    };
    assert_eq!(check_transaction(&nest(8)), Ok(()));
    let err = check_transaction(&nest(9)).unwrap_err();
    assert_eq!(err.field, "transaction.a.a.a.a.a.a.a.a");
    assert!(err.message.contains("deeper than 8"), "{err}");
    let arrays = json!({"a": [[[[[[[["too deep"]]]]]]]]});
    assert_eq!(
        field(check_transaction(&arrays)),
        "transaction.a[0][0][0][0][0][0][0]"
    );
}

#[test]
fn a_transaction_that_is_not_an_object_is_refused() {
    for value in [json!([1]), json!("1250.00"), json!(null), json!(7)] {
        let err = check_transaction(&value).unwrap_err();
        assert_eq!(err.field, "transaction");
        assert!(err.message.starts_with("must be a JSON object"), "{err}");
    }
}

#[test]
fn a_message_of_1_to_200_characters_passes_counting_characters_not_bytes() {
    assert_eq!(check_message("x"), Ok(()));
    assert_eq!(check_message(&"é".repeat(200)), Ok(()));
    assert_eq!(check_message("Zahle 1.250,00 € an ACME"), Ok(()));
}

#[test]
fn an_empty_or_too_long_message_is_refused() {
    let empty = check_message("").unwrap_err();
    assert_eq!(empty.to_string(), "authenticationMessage: is empty");
    let long = check_message(&"é".repeat(201)).unwrap_err();
    assert_eq!(long.field, "authenticationMessage");
    assert!(long.message.contains("201 characters"), "{long}");
}

#[test]
fn a_message_with_a_control_character_is_refused() {
    for text in [
        "Pay ACME\nCorp",
        "Pay\u{1b}[2J ACME",
        "Pay\u{7f}",
        "Pay\u{85}ACME",
    ] {
        let err = check_message(text).unwrap_err();
        assert_eq!(err.field, "authenticationMessage");
        assert!(err.message.contains("control character"), "{err}");
    }
    assert!(check_message("Pay ACME\nCorp")
        .unwrap_err()
        .message
        .contains("U+000A at character 9"));
}

#[test]
fn a_member_named_twice_at_the_top_level_is_refused_naming_it() {
    let text = br#"{"authenticationMessage":"Pay 1 EUR","authenticationMessage":"Pay 1000 EUR"}"#;
    let err = refuse_duplicate_members(text).unwrap_err();
    assert_eq!(err.field, "authenticationMessage");
    assert!(err.message.contains("twice"), "{err}");
}

#[test]
fn a_member_named_twice_in_a_nested_object_is_refused_naming_its_path() {
    let text = br#"{"transaction":{"amount":"1.00","payee":"ACME","amount":"1250.00"}}"#;
    assert_eq!(field(refuse_duplicate_members(text)), "transaction.amount");
    let in_array = br#"{"t":{"items":[{"a":1},{"b":2,"b":3}]}}"#;
    assert_eq!(field(refuse_duplicate_members(in_array)), "t.items[1].b");
    let escaped = br#"{"transaction":{"amount":"1","am\u006funt":"2"}}"#;
    assert_eq!(
        field(refuse_duplicate_members(escaped)),
        "transaction.amount"
    );
}

#[test]
fn json_without_duplicates_passes_and_the_same_name_in_sibling_objects_is_allowed() {
    let text = br#"{"a":{"id":1},"b":{"id":2},"c":[{"id":3},{"id":4}],"d":[1,"x",null,true,1.5]}"#;
    assert_eq!(refuse_duplicate_members(text), Ok(()));
    assert_eq!(refuse_duplicate_members(b"[]"), Ok(()));
}

#[test]
fn nesting_beyond_serde_json_s_recursion_limit_is_refused_as_not_json_without_overflowing() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let err = refuse_duplicate_members(deep.as_bytes()).unwrap_err();
    assert_eq!(err.field, "document");
    assert!(err.message.contains("recursion limit"), "{err}");
}

#[test]
fn text_that_is_not_json_is_refused() {
    for text in [&b"{\"a\":"[..], b"{} {}", b"", b"{'a':1}"] {
        let err = refuse_duplicate_members(text).unwrap_err();
        assert_eq!(err.field, "document");
        assert!(err.message.starts_with("is not JSON"), "{err}");
    }
}
