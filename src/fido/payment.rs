//! Secure Payment Confirmation (W3C SPC, §"Verifying an authentication assertion"): the payment
//! details a relying party asks the user to confirm, checked when it sends them, and the
//! `payment` member of a `payment.get` client data checked against them. The browser shows the
//! payee, amount and instrument itself, and writes what it showed into the client data the
//! authenticator signs; the server compares every shown member with what it stored.

use serde_json::{json, Map, Value};

use super::AuthenticationError;

/// What a `payment.get` client data must say besides the usual §7.2 checks.
pub struct PaymentExpectations<'a> {
    /// The checked details of the request (see [`check_details`]).
    pub details: &'a Value,
    /// The merchant page that runs the SPC: the client data's `origin` and `payment.topOrigin`.
    pub merchant_origin: &'a str,
}

/// The members of an SPC request a relying party sends, checked and reduced to what the browser
/// shows: `payeeName` and/or `payeeOrigin` (an `https` origin), `total` `{currency, value}` (an
/// ISO 4217 code and a decimal string, as the Payment Request API writes amounts) and
/// `instrument` `{displayName, icon}`. `Err` names the member.
pub fn check_details(value: &Value) -> Result<Value, (String, String)> {
    let fail = |field: &str, message: &str| Err((format!("payment.{field}"), message.to_string()));
    let Some(object) = value.as_object() else {
        return fail("", "must be an object");
    };
    let known = ["payeeName", "payeeOrigin", "total", "instrument"];
    if let Some(other) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return fail(
            other,
            "is not a member of a payment request (payeeName, payeeOrigin, total, instrument)",
        );
    }
    let mut out = Map::new();
    let text = |name: &str, max: usize| -> Result<Option<String>, (String, String)> {
        match object.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max => {
                Ok(Some(s.clone()))
            }
            Some(_) => Err((
                format!("payment.{name}"),
                format!("must be a non-empty string of at most {max} characters"),
            )),
        }
    };
    if let Some(name) = text("payeeName", 200)? {
        out.insert("payeeName".into(), json!(name));
    }
    if let Some(origin) = text("payeeOrigin", 2048)? {
        if !is_https_origin(&origin) {
            return fail(
                "payeeOrigin",
                "must be an https origin (https://host[:port])",
            );
        }
        out.insert("payeeOrigin".into(), json!(origin));
    }
    if out.is_empty() {
        return fail("payeeName", "give payeeName, payeeOrigin or both");
    }
    let Some(total) = object.get("total").and_then(Value::as_object) else {
        return fail(
            "total",
            "is required: {\"currency\": \"EUR\", \"value\": \"12.50\"}",
        );
    };
    let currency = total.get("currency").and_then(Value::as_str).unwrap_or("");
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return fail(
            "total.currency",
            "must be a three-letter ISO 4217 code such as \"EUR\"",
        );
    }
    let amount = total.get("value").and_then(Value::as_str).unwrap_or("");
    if !is_decimal(amount) {
        return fail(
            "total.value",
            "must be a decimal amount as a string, such as \"12.50\"",
        );
    }
    if total.len() != 2 {
        return fail("total", "has only the members currency and value");
    }
    out.insert(
        "total".into(),
        json!({"currency": currency, "value": amount}),
    );
    let Some(instrument) = object.get("instrument").and_then(Value::as_object) else {
        return fail(
            "instrument",
            "is required: {\"displayName\": \"…\", \"icon\": \"https://…\"}",
        );
    };
    let display = instrument
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if display.trim().is_empty() || display.chars().count() > 200 {
        return fail(
            "instrument.displayName",
            "must be a non-empty string of at most 200 characters",
        );
    }
    let icon = instrument.get("icon").and_then(Value::as_str).unwrap_or("");
    if !(icon.starts_with("https://") || icon.starts_with("data:image/")) || icon.len() > 65_536 {
        return fail(
            "instrument.icon",
            "must be an https URL or a data:image/ URL (at most 64 KiB)",
        );
    }
    out.insert(
        "instrument".into(),
        json!({"displayName": display, "icon": icon}),
    );
    Ok(Value::Object(out))
}

/// Checks the `payment` member of a `payment.get` client data: `rpId` is the relying party's,
/// `topOrigin` the merchant's, and `payeeName`, `payeeOrigin`, `total` and `instrument`
/// (`displayName`, `icon`) equal the stored details — a member the request left out must be
/// absent. Members browsers add besides these are ignored.
pub(crate) fn check_client_data(
    client_data_json: &[u8],
    rp_id: &str,
    exp: &PaymentExpectations,
) -> Result<(), AuthenticationError> {
    let refuse = |what: String| Err(AuthenticationError::PaymentMismatch(what));
    let data: Value = serde_json::from_slice(client_data_json)
        .map_err(|e| AuthenticationError::Malformed(format!("clientDataJSON: {e}")))?;
    let Some(payment) = data.get("payment").and_then(Value::as_object) else {
        return refuse("the client data has no payment member".into());
    };
    if payment.get("rpId").and_then(Value::as_str) != Some(rp_id) {
        return refuse(format!("payment.rpId is not \"{rp_id}\""));
    }
    if payment.get("topOrigin").and_then(Value::as_str) != Some(exp.merchant_origin) {
        return refuse(format!(
            "payment.topOrigin is not the merchant origin \"{}\"",
            exp.merchant_origin
        ));
    }
    for member in ["payeeName", "payeeOrigin", "total"] {
        if payment.get(member) != exp.details.get(member) {
            return refuse(format!(
                "payment.{member} is not what the relying party asked the user to confirm"
            ));
        }
    }
    let shown = payment.get("instrument");
    for member in ["displayName", "icon"] {
        let got = shown.and_then(|i| i.get(member));
        if got != exp.details["instrument"].get(member) {
            return refuse(format!(
                "payment.instrument.{member} is not what the relying party asked the user to confirm"
            ));
        }
    }
    Ok(())
}

fn is_https_origin(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    url.scheme() == "https" && url.origin().ascii_serialization() == text
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    !whole.is_empty()
        && whole.len() <= 15
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction
            .is_none_or(|f| !f.is_empty() && f.len() <= 6 && f.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details() -> Value {
        json!({
            "payeeName": "ACME Corp",
            "payeeOrigin": "https://acme.example",
            "total": {"currency": "EUR", "value": "12.50"},
            "instrument": {"displayName": "Visa ••••4242", "icon": "https://bank.example/card.png"},
        })
    }

    fn refused_field(value: Value) -> String {
        check_details(&value).expect_err("must be refused").0
    }

    #[test]
    fn payment_details_are_kept_as_the_browser_shows_them() {
        assert_eq!(check_details(&details()).unwrap(), details());
        let mut name_only = details();
        name_only.as_object_mut().unwrap().remove("payeeOrigin");
        assert_eq!(check_details(&name_only).unwrap(), name_only);
        let mut origin_only = details();
        origin_only.as_object_mut().unwrap().remove("payeeName");
        assert_eq!(check_details(&origin_only).unwrap(), origin_only);
        let mut data_icon = details();
        data_icon["instrument"]["icon"] = json!("data:image/png;base64,AAAA");
        assert!(check_details(&data_icon).is_ok());
        for value in ["0", "12", "-3.5", "999999999999999.999999"] {
            let mut d = details();
            d["total"]["value"] = json!(value);
            assert!(check_details(&d).is_ok(), "{value}");
        }
    }

    #[test]
    fn each_malformed_member_of_payment_details_is_named() {
        let with = |path: &[&str], v: Value| {
            let mut d = details();
            let mut at = &mut d;
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = v;
            d
        };
        let without = |name: &str| {
            let mut d = details();
            d.as_object_mut().unwrap().remove(name);
            d
        };
        assert_eq!(refused_field(json!("x")), "payment.");
        assert_eq!(
            refused_field(with(&["merchant"], json!("x"))),
            "payment.merchant"
        );
        let mut neither = without("payeeName");
        neither.as_object_mut().unwrap().remove("payeeOrigin");
        assert_eq!(refused_field(neither), "payment.payeeName");
        assert_eq!(
            refused_field(with(&["payeeName"], json!(" "))),
            "payment.payeeName"
        );
        assert_eq!(
            refused_field(with(&["payeeName"], json!("n".repeat(201)))),
            "payment.payeeName"
        );
        assert!(check_details(&with(&["payeeName"], json!("n".repeat(200)))).is_ok());
        assert_eq!(
            refused_field(with(&["payeeName"], json!(5))),
            "payment.payeeName"
        );
        for origin in [
            "http://acme.example",
            "https://acme.example/path",
            "acme.example",
            "https://acme.example/",
        ] {
            assert_eq!(
                refused_field(with(&["payeeOrigin"], json!(origin))),
                "payment.payeeOrigin",
                "{origin}"
            );
        }
        assert!(check_details(&with(&["payeeOrigin"], json!("https://acme.example:8443"))).is_ok());
        assert_eq!(refused_field(without("total")), "payment.total");
        for currency in ["eur", "EURO", "E1R", ""] {
            assert_eq!(
                refused_field(with(&["total", "currency"], json!(currency))),
                "payment.total.currency",
                "{currency}"
            );
        }
        for value in [
            "",
            "1.",
            ".5",
            "1,00",
            "1e3",
            "--1",
            "1.1234567",
            "1234567890123456",
            "12.5x",
        ] {
            assert_eq!(
                refused_field(with(&["total", "value"], json!(value))),
                "payment.total.value",
                "{value}"
            );
        }
        assert_eq!(
            refused_field(with(&["total", "value"], json!(12.5))),
            "payment.total.value"
        );
        assert_eq!(
            refused_field(with(&["total", "label"], json!("x"))),
            "payment.total"
        );
        assert_eq!(refused_field(without("instrument")), "payment.instrument");
        assert_eq!(
            refused_field(with(&["instrument", "displayName"], json!(""))),
            "payment.instrument.displayName"
        );
        assert_eq!(
            refused_field(with(&["instrument", "displayName"], json!("d".repeat(201)))),
            "payment.instrument.displayName"
        );
        assert!(check_details(&with(
            &["instrument", "displayName"],
            json!("d".repeat(200))
        ))
        .is_ok());
        for icon in [
            "http://bank.example/card.png",
            "ftp://x",
            "",
            "data:text/html,x",
        ] {
            assert_eq!(
                refused_field(with(&["instrument", "icon"], json!(icon))),
                "payment.instrument.icon",
                "{icon}"
            );
        }
        let long_icon = format!("data:image/png;base64,{}", "A".repeat(65_536));
        assert_eq!(
            refused_field(with(&["instrument", "icon"], json!(long_icon))),
            "payment.instrument.icon"
        );
        // Members of total and instrument besides the shown ones are dropped.
        let mut extra = details();
        extra["instrument"]["iconMustBeShown"] = json!(true);
        assert_eq!(check_details(&extra).unwrap(), details());
    }

    /// The client data of a `payment.get` whose `payment` member shows `shown`.
    fn client_data(shown: &Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"type": "payment.get", "challenge": "AAAA", "origin": MERCHANT, "payment": shown}))
            .unwrap()
    }

    const MERCHANT: &str = "https://merchant.example";

    fn shown() -> Value {
        let mut shown = details();
        shown["rpId"] = json!("bank.example");
        shown["topOrigin"] = json!(MERCHANT);
        shown["instrument"]["iconMustBeShown"] = json!(false);
        shown["browserBoundPublicKey"] = json!("ignored");
        shown
    }

    fn check(shown: &Value, stored: &Value) -> Result<(), AuthenticationError> {
        check_client_data(
            &client_data(shown),
            "bank.example",
            &PaymentExpectations {
                details: stored,
                merchant_origin: MERCHANT,
            },
        )
    }

    #[test]
    fn the_payment_the_browser_showed_must_be_the_one_requested() {
        let stored = check_details(&details()).unwrap();
        check(&shown(), &stored).expect("what was shown is what was asked");
        let mismatch = |edit: &dyn Fn(&mut Value), named: &str| {
            let mut s = shown();
            edit(&mut s);
            match check(&s, &stored) {
                Err(AuthenticationError::PaymentMismatch(why)) => {
                    assert!(why.contains(named), "{named}: {why}")
                }
                other => panic!("{named}: {other:?}"),
            }
        };
        mismatch(&|s| s["rpId"] = json!("evil.example"), "payment.rpId");
        mismatch(
            &|s| {
                s.as_object_mut().unwrap().remove("rpId");
            },
            "payment.rpId",
        );
        mismatch(
            &|s| s["topOrigin"] = json!("https://other.example"),
            "payment.topOrigin",
        );
        mismatch(
            &|s| s["payeeName"] = json!("Mallory Ltd"),
            "payment.payeeName",
        );
        mismatch(
            &|s| {
                s.as_object_mut().unwrap().remove("payeeOrigin");
            },
            "payment.payeeOrigin",
        );
        mismatch(&|s| s["total"]["value"] = json!("1250.00"), "payment.total");
        mismatch(&|s| s["total"]["currency"] = json!("USD"), "payment.total");
        mismatch(
            &|s| s["instrument"]["displayName"] = json!("Amex"),
            "payment.instrument.displayName",
        );
        mismatch(
            &|s| s["instrument"]["icon"] = json!("https://evil.example/i.png"),
            "payment.instrument.icon",
        );
        mismatch(
            &|s| {
                s.as_object_mut().unwrap().remove("instrument");
            },
            "payment.instrument.displayName",
        );
        // A payee the request left out must be absent from what was shown.
        let mut name_only = details();
        name_only.as_object_mut().unwrap().remove("payeeOrigin");
        let stored_name_only = check_details(&name_only).unwrap();
        assert!(matches!(
            check(&shown(), &stored_name_only),
            Err(AuthenticationError::PaymentMismatch(why)) if why.contains("payeeOrigin")
        ));
        // No payment member at all, or client data that is not JSON.
        let bare = serde_json::to_vec(&json!({"type": "payment.get"})).unwrap();
        let exp = PaymentExpectations {
            details: &stored,
            merchant_origin: MERCHANT,
        };
        assert!(matches!(
            check_client_data(&bare, "bank.example", &exp),
            Err(AuthenticationError::PaymentMismatch(why)) if why.contains("no payment member")
        ));
        assert!(matches!(
            check_client_data(b"{", "bank.example", &exp),
            Err(AuthenticationError::Malformed(_))
        ));
    }
}
