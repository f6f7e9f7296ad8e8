//! Cross-cutting HTTP: application state, the router every feature plugs into, the
//! middleware stack, errors, rendering and static assets.

pub mod assets;
pub mod client_ip;
pub mod error;
pub mod hosts;
pub mod middleware;
pub mod rate_limit;
pub mod render;
pub mod request_id;
pub mod routes;
pub mod security_headers;
pub mod tenant_tx;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::clock::SharedClock;
use crate::config::Config;

pub use error::{AppError, AppResult};
pub use render::Page;
pub use routes::{Access, Phi, RouteSpec, Routes};
pub use tenant_tx::{ActiveContext, TenantTx};

/// Everything a handler may need, cheap to clone (all shared behind `Arc`s or pools).
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The runtime-role pool. Handlers reach it through the tenant transaction
    /// extractor, never directly.
    pub db: PgPool,
    pub clock: SharedClock,
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
}

impl AppState {
    pub fn new(config: Config, db: PgPool, clock: SharedClock) -> Self {
        let rate_limiter = Arc::new(rate_limit::RateLimiter::new(config.http.rate_limit));
        Self {
            config: Arc::new(config),
            db,
            clock,
            rate_limiter,
        }
    }
}

/// Every feature's declared routes. Tests merge extra declared routes into this (a
/// handler that panics, say) and wrap the result with [`app`] like production does.
pub fn routes() -> Routes {
    Routes::new()
        .merge(crate::home::routes())
        .merge(crate::health::routes())
        .merge(assets::routes())
}

/// The complete application: `routes` behind the full middleware stack.
pub fn app(state: AppState, routes: Routes) -> Router {
    let router = routes
        .into_router(&state)
        // Innermost: commits or rolls back the request's tenant transaction.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            tenant_tx::finish,
        ))
        // Extractors enforce the same limit as the body-limit layer, not axum's own 2 MB.
        .layer(DefaultBodyLimit::max(state.config.http.body_limit_bytes));
    middleware::apply(router, &state).with_state(state)
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
