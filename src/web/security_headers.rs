//! Security headers on every response (pages, fragments, JSON, static files, 404s and
//! 500s alike) and the per-request CSP nonce.
//!
//! The nonce is generated here, put in the request extensions for the render layer (it
//! goes on every `<script>` tag), and named in this response's `script-src`. With no
//! `'unsafe-inline'` and no `'unsafe-eval'`, an injected `<script>` or inline handler
//! simply does not run.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use rand::RngCore as _;

/// The nonce of the current request (base64 of 16 random bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CspNonce(pub String);

impl CspNonce {
    fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CspNonce {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<CspNonce>().cloned().unwrap_or_else(CspNonce::generate))
    }
}

/// `Content-Security-Policy` for a response whose scripts carry `nonce`.
pub(crate) fn content_security_policy(nonce: &str, upgrade_insecure: bool) -> String {
    let mut policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self'; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    );
    if upgrade_insecure {
        policy.push_str("; upgrade-insecure-requests");
    }
    policy
}

const STATIC_HEADERS: &[(&str, &str)] = &[
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    (
        "permissions-policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), \
         payment=(), usb=()",
    ),
];

/// Middleware: nonce in, headers out. `production` adds `upgrade-insecure-requests`.
pub async fn layer(production: bool, mut req: Request, next: Next) -> Response {
    let nonce = CspNonce::generate();
    let csp = content_security_policy(&nonce.0, production);
    req.extensions_mut().insert(nonce);
    let mut response = next.run(req).await;
    apply(response.headers_mut(), &csp);
    response
}

fn apply(headers: &mut HeaderMap, csp: &str) {
    if let Ok(value) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    for (name, value) in STATIC_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    // Dynamic responses may hold patient data: no browser or proxy keeps a copy. Static
    // assets set their own long-lived Cache-Control before reaching this point.
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        // The same URL answers with a page or an htmx fragment.
        headers.append(header::VARY, HeaderValue::from_static("HX-Request"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_forbids_inline_and_eval_and_framing() {
        let csp = content_security_policy("abc", false);
        assert!(csp.contains("script-src 'self' 'nonce-abc'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(!csp.contains("unsafe-eval"));
        for directive in
            ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"]
        {
            assert!(csp.contains(directive), "{directive}");
        }
    }

    #[test]
    fn nonces_do_not_repeat() {
        let a = CspNonce::generate();
        let b = CspNonce::generate();
        assert_ne!(a, b);
        assert_eq!(a.0.len(), 24);
    }
}
