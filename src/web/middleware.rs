//! The middleware stack every request passes, outermost first.
//!
//! | layer | why it sits there |
//! |---|---|
//! | request id | first, so every later log line and every response (even a 500) carries it |
//! | trace span | method, matched route, status, latency; never the URI or query (PHI) |
//! | security headers + CSP nonce | outside everything that can produce a response, so a 404, 413, 429, timeout or panic page gets them too |
//! | compression | compresses the final body, after the render layer filled it |
//! | render | renders templates with the nonce and request id; dresses bare error statuses |
//! | timeout | bounds the time of everything below; answers 503 (a 408 invites browsers to resend) |
//! | trusted hosts | refuses unknown `Host` before any work |
//! | rate limit | resolves the client address, spends a token |
//! | catch panic | a panicking handler becomes a 500 the render layer dresses |
//! | body limit | refuses oversized bodies (413) before a handler reads them |

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::{Request, Response, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::web::request_id::RequestId;
use crate::web::{AppState, hosts, rate_limit, render, request_id, security_headers};

/// Wraps `routes` in the stack, configured from `state`.
pub fn apply(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    let production = state.config.is_production();
    let trusted_hosts = Arc::new(state.config.http.trusted_hosts.clone());
    routes.layer(
        ServiceBuilder::new()
            .layer(from_fn(request_id::layer))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(log_response)
                    .on_failure(()),
            )
            .layer(from_fn(move |req, next| security_headers::layer(production, req, next)))
            .layer(CompressionLayer::new())
            .layer(from_fn(render::layer))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                state.config.http.request_timeout,
            ))
            .layer(from_fn_with_state(trusted_hosts, hosts::layer))
            .layer(from_fn_with_state(state.clone(), rate_limit::layer))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(RequestBodyLimitLayer::new(state.config.http.body_limit_bytes)),
    )
}

fn request_span(req: &Request<Body>) -> Span {
    let request_id = req.extensions().get::<RequestId>().map_or("", RequestId::as_str);
    // The route template (`/patients/{id}`), never the concrete path or query.
    let route = req.extensions().get::<MatchedPath>().map_or("<unmatched>", MatchedPath::as_str);
    tracing::info_span!("request", request_id, method = %req.method(), route)
}

fn log_response<B>(res: &Response<B>, latency: Duration, _span: &Span) {
    let status = res.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if res.status().is_server_error() {
        tracing::error!(status, latency_ms, "response");
    } else {
        tracing::info!(status, latency_ms, "response");
    }
}

/// A bare 500; the render layer turns it into the styled page with the request id. The
/// panic itself was logged by the panic hook (location only, outside development).
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
