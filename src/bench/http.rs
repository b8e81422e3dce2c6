//! The HTTP side: one shared connection pool, per-ceremony cookie jars, the three ways of
//! authenticating a call (a browser's session and CSRF header, a tenant's `AT-X-Key`, a bearer
//! key or admin token), and failures sorted into kinds for the report.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, COOKIE, SET_COOKIE};
use reqwest::Method;
use serde_json::Value;

use super::authn::brief;

/// Why a ceremony failed: `kind` groups failures in the report (e.g. `check: HTTP 400
/// FIDO_AUTHENTICATION_FAILED`), `message` says what happened.
#[derive(Clone, Debug)]
pub struct Failure {
    pub kind: String,
    pub message: String,
}

impl Failure {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// An answer the scenario did not expect at this step.
    pub fn unexpected(step: &str, answer: &Answer) -> Self {
        let code = error_code(&answer.body);
        let kind = match code {
            Some(code) => format!("{step}: HTTP {} {code}", answer.status),
            None => format!("{step}: HTTP {}", answer.status),
        };
        Failure::new(kind, format!("{step}: {}", brief(&answer.body)))
    }

    /// A well-formed answer that lacks what the next step needs.
    pub fn protocol(step: &str, what: &str, answer: &Answer) -> Self {
        Failure::new(
            format!("{step}: unexpected answer"),
            format!(
                "{step}: {what}: HTTP {} {}",
                answer.status,
                brief(&answer.body)
            ),
        )
    }

    pub fn authenticator(step: &str, message: String) -> Self {
        Failure::new(
            format!("{step}: authenticator"),
            format!("{step}: {message}"),
        )
    }
}

/// The error code of a JSON:API document (`errors[0].code`), an AuthFi answer (`code`) or
/// nothing (OneSpan answers carry a message only).
fn error_code(body: &Value) -> Option<String> {
    if let Some(code) = body["errors"][0]["code"].as_str() {
        return Some(code.to_owned());
    }
    match &body["code"] {
        Value::Number(n) => Some(format!("code {n}")),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A decoded answer; a body that is not JSON is kept as a string value.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// How a call authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// A browser: `X-Same-Domain`, `Origin`, and the session cookies.
    Browser,
    /// AuthFi: `AT-X-Key`.
    ApiKey(&'a str),
    /// OneSpan's API key or an admin token: `Authorization: Bearer`.
    Bearer(&'a str),
}

/// The cookies a browser keeps for one ceremony (name, value).
#[derive(Default)]
pub struct Jar {
    cookies: Vec<(String, String)>,
}

impl Jar {
    fn header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let joined = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::from_str(&joined).ok()
    }

    fn take(&mut self, headers: &reqwest::header::HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let pair = text.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            let expired = text.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            self.cookies.retain(|(n, _)| *n != name);
            if !expired {
                self.cookies.push((name, value));
            }
        }
    }
}

/// Time spent in each request of a ceremony, by step name.
pub type Steps = Vec<(&'static str, Duration)>;

/// The server under load.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
    origin: String,
}

impl Http {
    pub fn new(base: &str, origin: &str, timeout: Duration) -> Result<Http, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(Http {
            client,
            base: base.trim_end_matches('/').to_owned(),
            origin: origin.to_owned(),
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Sends one call and decodes its answer; the time it took is added to `steps`.
    #[allow(clippy::too_many_arguments)]
    pub async fn call(
        &self,
        step: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        auth: Auth<'_>,
        jar: Option<&mut Jar>,
        steps: &mut Steps,
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::Browser => {
                req = req
                    .header("X-Same-Domain", "1")
                    .header("Origin", &self.origin);
            }
            Auth::ApiKey(key) => req = req.header("AT-X-Key", key),
            Auth::Bearer(key) => req = req.bearer_auth(key),
        }
        if let Some(cookie) = jar.as_ref().and_then(|j| j.header()) {
            req = req.header(COOKIE, cookie);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let result = req.send().await;
        let response = match result {
            Ok(r) => r,
            Err(e) => return Err(transport(step, &e)),
        };
        let status = response.status().as_u16();
        if let Some(jar) = jar {
            jar.take(response.headers());
        }
        let bytes = response.bytes().await.map_err(|e| transport(step, &e))?;
        steps.push((step, started.elapsed()));
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Answer { status, body })
    }
}

fn transport(step: &str, e: &reqwest::Error) -> Failure {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection refused or reset"
    } else {
        "transport"
    };
    // The source chain says more than the top-level message ("error sending request").
    let mut message = format!("{step}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    Failure::new(format!("{step}: {kind}"), message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    #[test]
    fn the_jar_keeps_the_last_value_of_each_cookie_and_drops_expired_ones() {
        let mut jar = Jar::default();
        let mut h = HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("A=1; Path=/; HttpOnly"),
        );
        h.append(SET_COOKIE, HeaderValue::from_static("B=2"));
        jar.take(&h);
        let mut h = HeaderMap::new();
        h.append(SET_COOKIE, HeaderValue::from_static("A=3; Path=/"));
        h.append(SET_COOKIE, HeaderValue::from_static("B=; Max-Age=0"));
        jar.take(&h);
        assert_eq!(jar.header().unwrap(), "A=3");
    }

    #[test]
    fn failures_are_grouped_by_step_status_and_code() {
        let a = Answer {
            status: 400,
            body: serde_json::json!({"errors": [{"code": "FIDO_AUTHENTICATION_FAILED"}]}),
        };
        assert_eq!(
            Failure::unexpected("check", &a).kind,
            "check: HTTP 400 FIDO_AUTHENTICATION_FAILED"
        );
        let a = Answer {
            status: 400,
            body: serde_json::json!({"code": 4200, "message": "signature"}),
        };
        assert_eq!(
            Failure::unexpected("put", &a).kind,
            "put: HTTP 400 code 4200"
        );
    }
}
