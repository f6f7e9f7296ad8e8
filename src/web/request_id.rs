//! Request ids: one per request, on every log line, on the response, on error pages.
//!
//! A well-formed incoming `X-Request-ID` from one of our configured proxies (the load
//! balancer) is kept so a request can be followed across systems; from anyone else, or
//! malformed, it is replaced by a fresh ULID — a client must not choose the id the audit
//! log and our logs file its request under (to collide with another's, or to plant one).
//! "Well formed" is deliberately narrow (8-64 of `A-Z a-z 0-9 - _ .`): the value goes into
//! logs and pages, so it must not be able to carry markup, newlines or data.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use ulid::Ulid;

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request; in the request extensions of every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether an incoming id is acceptable as is.
pub(crate) fn is_well_formed(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Outermost middleware: settles the id, stores it, echoes it on the response.
pub async fn layer(trusted_proxies: Arc<Vec<IpNet>>, mut req: Request, next: Next) -> Response {
    let peer = crate::web::client_ip::peer_of(req.extensions());
    let from_our_proxy = trusted_proxies.iter().any(|net| net.contains(&peer));
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|_| from_our_proxy)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_well_formed(v))
        .map(str::to_owned)
        .unwrap_or_else(|| Ulid::new().to_string());
    let header = HeaderValue::from_str(&id).expect("ids are validated or generated as ASCII");
    req.headers_mut().insert(X_REQUEST_ID.clone(), header.clone());
    req.extensions_mut().insert(RequestId(id));
    let mut response = next.run(req).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), header);
    response
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only absent if a handler runs outside the middleware stack (a unit test).
        Ok(parts.extensions.get::<RequestId>().cloned().unwrap_or_else(|| RequestId(Ulid::new().to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tokens_are_accepted() {
        assert!(is_well_formed("01JD6Z3K4M5N6P7Q8R9S0T1V2W"));
        assert!(is_well_formed("4bf92f35-77b3-4da6-a3ce-929d0e0e4736"));
        for bad in
            ["short", "has space in it", "line\nbreak-xxxxxxxx", "<script>alert(1)</script>", &"x".repeat(65)]
        {
            assert!(!is_well_formed(bad), "{bad:?}");
        }
    }
}
