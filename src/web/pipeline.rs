//! The path of a request, outermost first: the whole middleware stack, in the order a
//! request meets it. Each step names its file.
//!
//! | step | file | why it sits there |
//! |---|---|---|
//! | request id | `request_id.rs` | first, so every later log line and every response (even a 500) carries it |
//! | trace span | here | method, matched route, status, latency; never the URI or query (PHI) |
//! | security headers + CSP nonce | `security_headers.rs` | outside everything that can produce a response, so a 404, 413, 429, timeout or panic page gets them too |
//! | compression | here | compresses the final body (fast settings; static files come pre-compressed) |
//! | render | `render.rs` | renders templates with the nonce and request id; dresses bare error statuses |
//! | timeout | here | bounds the time of everything below; answers 503 (a 408 invites browsers to resend) |
//! | trusted hosts | `hosts.rs` | refuses unknown `Host` before any work |
//! | rate limit | `rate_limit.rs`, `client_ip.rs` | resolves the client address, spends a token |
//! | catch panic | here | a panicking handler becomes a 500 the render layer dresses |
//! | body limit | here | refuses oversized bodies (413) before a handler reads them |
//! | session cookie | here, `auth/session_store.rs` | loads the server-side session lazily (one query when read) |
//! | origin check | here | refuses cross-origin state changes (`Origin`, `Sec-Fetch-Site`) |
//! | authenticate | `authenticate.rs` | who is asking, idle and absolute timeouts, the CSRF token |
//! | denial record | `routes.rs` | writes `authz_denied` for routes refused by their declared access |
//! | declared access | `routes.rs` | signed in? second factor? the right kind of context? the permission? |
//! | transaction | `tenant_tx.rs`, `system_tx.rs` | commits or rolls back the request's clinic transaction |
//! | handler | the feature | its SQL on `TenantTx` or `SystemTx`, its audit events in the same transaction |

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Request, Response, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::auth::session_store::{self, PostgresSessionStore};
use crate::web::request_id::RequestId;
use crate::web::{
    AppState, Routes, authenticate, hosts, rate_limit, render, request_id, security_headers,
    session_cookie_name, tenant_tx,
};

/// How hard dynamic pages are compressed. Pages are made per request, so compression is
/// paid on every one: the fastest levels keep most of the saving (HTML compresses 5-8x
/// even so) at a small fraction of the CPU of the best level.
const DYNAMIC_COMPRESSION: CompressionLevel = CompressionLevel::Precise(1);

/// Bodies smaller than this go out as they are: a response that already fits in one TCP
/// segment (1,460 bytes of payload on Ethernet, less headers) saves no packet and no
/// round trip by shrinking, while compressing it costs about a third of a small page's
/// throughput (measured on the Fortunes page: 22k/s plain, 15k/s compressed). htmx
/// fragments and short pages are mostly this size.
const SMALLEST_COMPRESSED: u64 = 1400;

/// The complete application: `routes` behind the whole stack, in the order above.
pub fn app(state: AppState, routes: Routes) -> Router {
    let production = state.config.is_production();
    let trusted_hosts = Arc::new(state.config.http.trusted_hosts.clone());
    let trusted_proxies = Arc::new(state.config.http.trusted_proxies.clone());
    let background = routes.background_routes();
    let machine = routes.machine_routes();
    let probes = routes.probe_routes();
    let navigation = routes.navigation();
    let router = routes
        .into_router(&state)
        // Innermost: commits or rolls back the request's tenant transaction.
        .layer(from_fn_with_state(state.clone(), tenant_tx::finish))
        // Who is asking (one session read), timeouts, the CSRF token.
        .layer(from_fn_with_state(
            (state.clone(), background, machine, navigation),
            authenticate::authenticate,
        ))
        // Cross-origin requests are refused before any session is touched.
        .layer(origin_check(&state))
        .layer(session_layer(&state))
        // A session the store could not save for want of a database is a 503, not a 500.
        .layer(from_fn(session_store_unavailable))
        // Extractors enforce the same limit as the body-limit layer, not axum's own 2 MB.
        .layer(DefaultBodyLimit::max(state.config.http.body_limit_bytes));
    router
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(move |req, next| request_id::layer(trusted_proxies.clone(), req, next)))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_request(())
                        .on_response(log_response)
                        .on_failure(()),
                )
                .layer(from_fn(move |req, next| security_headers::layer(production, req, next)))
                .layer(
                    CompressionLayer::new().quality(DYNAMIC_COMPRESSION).compress_when(
                        SizeAbove::new(SMALLEST_COMPRESSED)
                            .and(NotForContentType::IMAGES)
                            .and(NotForContentType::SSE),
                    ),
                )
                .layer(from_fn(render::layer))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    state.config.http.request_timeout,
                ))
                .layer(from_fn_with_state((trusted_hosts, probes), hosts::layer))
                .layer(from_fn_with_state(
                    rate_limit::Limits {
                        limiter: state.rate_limiter.clone(),
                        trusted_proxies: Arc::new(state.config.http.trusted_proxies.clone()),
                        clock: state.clock.clone(),
                    },
                    rate_limit::layer,
                ))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(RequestBodyLimitLayer::new(state.config.http.body_limit_bytes)),
        )
        .with_state(state)
}

/// The session cookie: `__Host-` prefixed and `Secure` whenever the site is served over
/// https, `HttpOnly`, `SameSite=Lax`, host-only, for the whole site. Its server-side
/// expiry follows the idle and absolute timeouts.
fn session_layer(state: &AppState) -> tower_sessions::SessionManagerLayer<PostgresSessionStore> {
    let secure = state.config.auth.secure_cookies;
    tower_sessions::SessionManagerLayer::new(PostgresSessionStore::new(state.db.clone()))
        .with_name(session_cookie_name(secure))
        .with_secure(secure)
        .with_http_only(true)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_path("/")
}

/// The session layer answers a bare 500 when it cannot save a session; when that was the
/// database being away (stopped, restarting, failing over), the answer is the same 503
/// "try again in a moment" as for any other request that meets it.
async fn session_store_unavailable(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (response, unavailable) = session_store::noting_unavailable(next.run(req)).await;
    if unavailable && response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return axum::response::IntoResponse::into_response(crate::error::AppError::Unavailable(
            "session_store",
        ));
    }
    response
}

/// Refuses state-changing requests from other origins (`Origin`, `Sec-Fetch-Site`)
/// before the per-session CSRF token is even looked at.
fn origin_check(state: &AppState) -> tower_http::csrf::CsrfLayer {
    let origin = state.config.http.public_url.origin().ascii_serialization();
    tower_http::csrf::CsrfLayer::new()
        .add_trusted_origin(&origin)
        .unwrap_or_else(|_| tower_http::csrf::CsrfLayer::new())
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
    // A 503 (no database for a moment, a full hashing queue, a timeout) asks the client to
    // come back: worth watching, not a fault to page someone about.
    if res.status() == StatusCode::SERVICE_UNAVAILABLE {
        tracing::warn!(status, latency_ms, "response");
    } else if res.status().is_server_error() {
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

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
