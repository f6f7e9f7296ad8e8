//! Security headers on every kind of response (WEB-01, WEB-04, WEB-05).

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, spawn_app, test_routes};

/// Every header WEB-01 and WEB-04 ask for, with the values they require.
fn assert_security_headers(headers: &HeaderMap, what: &str) {
    let csp = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .expect("ascii");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"]
    {
        assert!(csp.contains(directive), "{what}: {directive} missing from {csp}");
    }
    let hsts = headers["strict-transport-security"].to_str().expect("ascii");
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .expect("max-age");
    assert!(max_age >= 31_536_000 && hsts.contains("includeSubDomains"), "{what}: {hsts}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin", "{what}");
    assert!(
        headers.get("permissions-policy").is_some_and(|v| v.to_str().expect("ascii").contains("camera=()")),
        "{what}"
    );
    assert!(headers.get("x-request-id").is_some(), "{what}: no request id");
}

async fn send(app: &TestApp, method: Method, path: &str, htmx: bool) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if htmx {
        req = req.header("HX-Request", "true");
    }
    req.send().await.expect("request")
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().routes(test_routes()).env("LOCKDEV_BODY_LIMIT_BYTES", "2048").spawn().await;
    let asset = lockdev::web::assets::url("css/app.css");

    let cases: Vec<(&str, reqwest::Response, StatusCode)> = vec![
        ("page", send(&app, Method::GET, "/", false).await, StatusCode::OK),
        ("htmx fragment", send(&app, Method::GET, "/status", true).await, StatusCode::OK),
        ("json", send(&app, Method::GET, "/health/deep", false).await, StatusCode::OK),
        ("plain text", send(&app, Method::GET, "/health", false).await, StatusCode::OK),
        ("static asset", send(&app, Method::GET, asset, false).await, StatusCode::OK),
        ("404 page", send(&app, Method::GET, "/no/such/page", false).await, StatusCode::NOT_FOUND),
        ("404 fragment", send(&app, Method::GET, "/no/such/page", true).await, StatusCode::NOT_FOUND),
        ("405", send(&app, Method::GET, "/sign-out", false).await, StatusCode::METHOD_NOT_ALLOWED),
        ("500 page", send(&app, Method::GET, "/test/panic", false).await, StatusCode::INTERNAL_SERVER_ERROR),
        (
            "500 fragment",
            send(&app, Method::GET, "/test/panic", true).await,
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        (
            "413",
            app.client.post(app.url("/test/echo")).body(vec![b'x'; 4096]).send().await.expect("request"),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "400 untrusted host",
            app.client.get(app.url("/")).header("host", "evil.example").send().await.expect("request"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, res, status) in cases {
        assert_eq!(res.status(), status, "{what}");
        assert_security_headers(res.headers(), what);
        let cache = res.headers().get("cache-control").map(|v| v.to_str().expect("ascii").to_owned());
        if what == "static asset" {
            assert_eq!(cache.as_deref(), Some("public, max-age=31536000, immutable"));
        } else {
            // WEB-05: nothing dynamic is kept by a browser or proxy.
            assert_eq!(cache.as_deref(), Some("no-store"), "{what}");
        }
    }
}

#[tokio::test]
async fn a_rate_limited_response_carries_the_security_headers_too() {
    let app = spawn_app()
        .env("LOCKDEV_RATE_LIMIT_PER_SECOND", "1")
        .env("LOCKDEV_RATE_LIMIT_BURST", "1")
        .spawn()
        .await;
    assert_eq!(app.get("/").await.status(), 200);
    let res = app.get("/").await;
    assert_eq!(res.status(), 429);
    assert_security_headers(res.headers(), "429");
    assert_eq!(res.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn each_page_has_its_own_nonce_and_every_script_carries_it() {
    let app = spawn_app().spawn().await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let res = app.get("/").await;
        let csp = res.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
        let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("nonce").to_owned();
        let html = res.text().await.expect("body");
        let scripts = html.matches("<script").count();
        assert!(scripts >= 2, "htmx and app.js");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "every script has this response's nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);
}

#[tokio::test]
async fn html_responses_vary_on_hx_request() {
    let app = spawn_app().spawn().await;
    let res = app.get_fragment("/status").await;
    let vary: Vec<String> = res
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_ascii_lowercase())
        .collect();
    assert!(vary.iter().any(|v| v.contains("hx-request")), "{vary:?}");
}
