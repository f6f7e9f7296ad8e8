//! Trusted hosts: answer only for the names we serve.
//!
//! A request whose `Host` is not on the allow-list gets 400 before any handler runs. This
//! defeats DNS rebinding (a hostile page pointing its own name at our address) and host
//! header poisoning of absolute links. Routes declared `Access::Probe` (the health
//! endpoints) are exempt: load balancers and container health checks call them by IP
//! address, and they carry no patient data.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::error_response;
use crate::web::context::RouteSet;

/// The host name of a `Host` header or URI authority, lower-cased, without the port.
pub(crate) fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if authority.starts_with('[') {
        // [v6]:port -> [v6]
        return authority.split_inclusive(']').next().unwrap_or_default().to_owned();
    }
    authority.split(':').next().unwrap_or_default().to_owned()
}

pub async fn layer(
    State((allowed, probes)): State<(Arc<Vec<String>>, RouteSet)>,
    req: Request,
    next: Next,
) -> Response {
    if probes.contains(&req) {
        return next.run(req).await;
    }
    let authority = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    let trusted = authority.is_some_and(|a| {
        let name = host_name(&a);
        allowed.contains(&name)
    });
    if trusted {
        next.run(req).await
    } else {
        tracing::warn!(reason = "untrusted_host", "request refused");
        error_response(
            StatusCode::BAD_REQUEST,
            "This server does not answer for that address. Check the link you followed.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_case_are_ignored() {
        assert_eq!(host_name("Clinic.Example.com:443"), "clinic.example.com");
        assert_eq!(host_name("127.0.0.1:3000"), "127.0.0.1");
        assert_eq!(host_name("[::1]:3000"), "[::1]");
        assert_eq!(host_name("localhost"), "localhost");
    }
}
