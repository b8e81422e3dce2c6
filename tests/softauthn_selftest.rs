mod common;

#[test]
fn smoke() {
    let mut a = common::softauthn::SoftAuthenticator::new();
    let v = a.register(&serde_json::json!({}), "https://example.com");
    println!("{v}");
}
