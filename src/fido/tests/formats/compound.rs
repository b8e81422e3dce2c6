//! The `compound` format: every inner statement verified.

use super::*;

fn compound_of(reg: &mut Reg, items: Vec<Cbor>) {
    reg.att = Att::Raw {
        fmt: "compound".into(),
        stmt: Cbor::Array(items),
    };
}

fn self_statement(reg: &Reg, tamper: bool) -> Cbor {
    let mut sig = reg.key.sign(&signed_data(reg));
    if tamper {
        sig[10] ^= 1;
    }
    Cbor::Map(vec![
        (text("fmt"), text("packed")),
        (
            text("attStmt"),
            Cbor::Map(vec![
                (text("alg"), int(-7)),
                (text("sig"), Cbor::Bytes(sig)),
            ]),
        ),
    ])
}

#[test]
fn a_compound_attestation_verifies_when_every_statement_does() {
    let mut reg = Reg::new();
    let items = vec![
        self_statement(&reg, false),
        Cbor::Map(vec![
            (text("fmt"), text("none")),
            (text("attStmt"), Cbor::Map(vec![])),
        ]),
    ];
    compound_of(&mut reg, items);
    let ok = verify(&reg).unwrap();
    assert_eq!(ok.format, "compound");
    assert_eq!(ok.attestation_type, AttestationType::Compound);
    assert!(!ok.attestation_trusted);
}

#[test]
fn a_compound_attestation_with_one_bad_statement_is_refused() {
    let mut reg = Reg::new();
    let items = vec![self_statement(&reg, false), self_statement(&reg, true)];
    compound_of(&mut reg, items);
    assert_eq!(refusal(&reg).0, "attestationSignature");
}

#[test]
fn an_empty_or_nested_compound_attestation_is_refused() {
    let mut reg = Reg::new();
    compound_of(&mut reg, vec![]);
    assert_eq!(refusal(&reg).0, "attestationStatement");
    let mut reg = Reg::new();
    let nested = Cbor::Map(vec![
        (text("fmt"), text("compound")),
        (text("attStmt"), Cbor::Array(vec![])),
    ]);
    compound_of(&mut reg, vec![nested]);
    assert_eq!(refusal(&reg).0, "attestationStatement");
}

#[test]
fn a_compound_statement_of_an_unknown_or_compound_format_cannot_be_verified_here() {
    for fmt in ["compound", "unknown-format"] {
        let mut reg = Reg::new();
        let item = Cbor::Map(vec![
            (text("fmt"), text(fmt)),
            (text("attStmt"), Cbor::Map(vec![])),
        ]);
        compound_of(&mut reg, vec![item]);
        let (check, why) = refusal(&reg);
        assert_eq!(check, "attestationStatement", "{fmt}");
        assert!(why.contains("cannot be verified here"), "{fmt}: {why}");
    }
}

/// A stored compound attestation is read again only as registration could have verified it.
#[test]
fn a_stored_compound_statement_of_an_unknown_format_is_not_read_even_with_x5c() {
    let pki = Pki::new();
    let read = |fmt: &str| {
        let item = Cbor::Map(vec![
            (text("fmt"), text(fmt)),
            (
                text("attStmt"),
                Cbor::Map(vec![(text("x5c"), x5c(&[pki.leaf.der()]))]),
            ),
        ]);
        crate::fido::attestation::stored_statements("compound", &Cbor::Array(vec![item]))
    };
    let (kind, statements) = read("packed").expect("a packed x5c statement");
    assert_eq!(kind, AttestationType::Compound);
    assert_eq!(statements[0].kind, AttestationType::Basic);
    assert!(read("unknown-format").is_none());
}
