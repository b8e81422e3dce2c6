//! The pages are served with a strict Content-Security-Policy.

use reqwest::StatusCode;

use crate::common::app::spawn_app;

#[tokio::test]
async fn the_portal_and_the_helpdesk_page_are_served_with_a_strict_policy() {
    let app = spawn_app().await;
    for path in ["/", "/helpdesk"] {
        let response = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert!(headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    let missing = reqwest::get(format!("{}/static/no-such-file.js", app.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
