//! Cross-cutting HTTP: application state, the router every feature plugs into, the
//! middleware stack, errors, rendering and static assets.

pub mod assets;
pub mod client_ip;
pub mod error;
pub mod hosts;
pub mod live;
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

use crate::auth::crypto::DataKey;
use crate::auth::passkeys::Passkeys;
use crate::auth::password::PasswordHasher;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::integrations::mail::Mailer;

pub use error::{AppError, AppResult};
pub use render::{Framed, Page};
pub use routes::{Access, Phi, RouteSpec, Routes};
pub use tenant_tx::{ActiveContext, RequestInfo, TenantTx};

/// Everything a handler may need. Cloning is one reference count: every `from_fn_with_state`
/// layer clones the state for each request, and copying a dozen fields (each an `Arc` to
/// count up and down) showed as 7% of a simple page's CPU under load.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct SharedState {
    pub config: Arc<Config>,
    /// The runtime-role pool. Handlers reach it through the tenant transaction
    /// extractor, never directly.
    pub db: PgPool,
    /// Pipelined single-statement reads outside any tenant (the session lookup); `None`
    /// when the database needs TLS, which they do not speak yet.
    pub reads: Option<Arc<crate::db::shared_reads::SharedReads>>,
    pub clock: SharedClock,
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
    pub auth: Arc<AuthServices>,
    /// The channels automated messages leave by (through the gate, from jobs).
    pub notifier: crate::notify::Notifier,
    /// Checks the signatures of inbound texts.
    pub sns: Arc<crate::notify::inbound::SnsVerifier>,
    /// Schedule changes from every process, for open schedule pages.
    pub live: Arc<live::Hub>,
}

/// What authentication needs, built once from the configuration.
pub struct AuthServices {
    /// Argon2id, at most one hash per core at a time.
    pub passwords: PasswordHasher,
    pub data_key: DataKey,
    pub passkeys: Passkeys,
    pub mailer: Arc<dyn Mailer>,
    /// Per-address limits on the endpoints attackers hammer.
    pub sign_in_limit: rate_limit::RateLimiter,
    pub second_factor_limit: rate_limit::RateLimiter,
    pub reset_limit: rate_limit::RateLimiter,
}

impl AppState {
    pub fn new(config: Config, db: PgPool, clock: SharedClock) -> anyhow::Result<Self> {
        let rate_limiter = Arc::new(rate_limit::RateLimiter::new(config.http.rate_limit));
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        // Ten attempts at once, then one every five seconds, per client address.
        let auth_limit =
            || rate_limit::RateLimiter::new(Some(crate::config::RateLimit { per_second: 0.2, burst: 10 }));
        // The development channels write through a pool of their own (see there); the
        // database is not touched until a message is actually kept.
        let channel_db = match crate::db::development_channel_pool(&config.database) {
            Ok(pool) => pool,
            Err(_) => db.clone(),
        };
        let mailer = crate::integrations::mail::from_config(&config.mail, channel_db.clone())?;
        let notifier = crate::notify::Notifier::from_config(&config, &channel_db, mailer.clone());
        let pinned = match &config.messaging.sns_certificate_file {
            Some(path) => {
                Some(std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?)
            }
            None => None,
        };
        let sns = Arc::new(crate::notify::inbound::SnsVerifier::new(pinned));
        let auth = AuthServices {
            // One core is always left to serving: on a small machine a storm of sign-ins
            // would otherwise hold every core, and lower priority alone still lets hashing
            // delay a page by a scheduler slice (S6 measured p99 3-5x).
            passwords: PasswordHasher::new(cores.saturating_sub(1).max(1)),
            data_key: DataKey::new(config.auth.data_key.expose()),
            passkeys: Passkeys::new(&config.http.public_url),
            mailer,
            sign_in_limit: auth_limit(),
            second_factor_limit: auth_limit(),
            reset_limit: auth_limit(),
        };
        let reads = crate::db::shared_reads::SharedReads::from_config(&config.database);
        Ok(Self(Arc::new(SharedState {
            config: Arc::new(config),
            db,
            reads,
            clock,
            rate_limiter,
            auth: Arc::new(auth),
            notifier,
            sns,
            live: Arc::new(live::Hub::default()),
        })))
    }
}

/// Reads a form body after the handler has authorized the request (so that a request for
/// something the caller may not see gets 404 whatever its body holds).
pub fn parse_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> AppResult<T> {
    serde_urlencoded::from_bytes(body).map_err(|_| {
        AppError::BadRequest("The form could not be read. Nothing was saved; please try again.".into())
    })
}

/// Every feature's declared routes. Tests merge extra declared routes into this (a
/// handler that panics, say) and wrap the result with [`app`] like production does.
pub fn routes() -> Routes {
    Routes::new()
        .merge(crate::home::routes())
        .merge(crate::health::routes())
        .merge(assets::routes())
        .merge(crate::signin::routes())
        .merge(crate::account::routes())
        .merge(crate::contexts::routes())
        .merge(crate::dev_mailbox::routes())
        .merge(crate::notify::routes())
        .merge(crate::invitations::routes())
        .merge(crate::members::routes())
        .merge(crate::clinic_settings::routes())
        .merge(crate::patient_access::routes())
        .merge(crate::patients::routes())
        .merge(crate::contacts::routes())
        .merge(crate::care_team::routes())
        .merge(crate::appointments::routes())
        .merge(crate::notes::routes())
        .merge(crate::text_messages::routes())
        .merge(crate::tasks::routes())
}

/// The complete application: `routes` behind the full middleware stack.
pub fn app(state: AppState, routes: Routes) -> Router {
    let router = routes
        .into_router(&state)
        // Innermost: commits or rolls back the request's tenant transaction.
        .layer(axum::middleware::from_fn_with_state(state.clone(), tenant_tx::finish))
        // Who is asking (one session read), timeouts, the CSRF token.
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::middleware::authenticate))
        // Cross-origin requests are refused before any session is touched.
        .layer(origin_check(&state))
        .layer(session_layer(&state))
        // Extractors enforce the same limit as the body-limit layer, not axum's own 2 MB.
        .layer(DefaultBodyLimit::max(state.config.http.body_limit_bytes));
    middleware::apply(router, &state).with_state(state)
}

/// The session cookie: `__Host-` prefixed and `Secure` whenever the site is served over
/// https (plain-http development on localhost drops both, or the browser would refuse the
/// cookie), `HttpOnly`, `SameSite=Lax`, host-only, for the whole site. Its server-side
/// expiry follows the idle and absolute timeouts.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-lockdev" } else { "lockdev_session" }
}

fn session_layer(
    state: &AppState,
) -> tower_sessions::SessionManagerLayer<crate::auth::session_store::PostgresSessionStore> {
    let secure = state.config.auth.secure_cookies;
    tower_sessions::SessionManagerLayer::new(crate::auth::session_store::PostgresSessionStore::new(
        state.db.clone(),
        state.reads.clone(),
    ))
    .with_name(session_cookie_name(secure))
    .with_secure(secure)
    .with_http_only(true)
    .with_same_site(tower_sessions::cookie::SameSite::Lax)
    .with_path("/")
}

/// Refuses state-changing requests from other origins (`Origin`, `Sec-Fetch-Site`)
/// before the per-session CSRF token is even looked at.
fn origin_check(state: &AppState) -> tower_http::csrf::CsrfLayer {
    let origin = state.config.http.public_url.origin().ascii_serialization();
    tower_http::csrf::CsrfLayer::new()
        .add_trusted_origin(&origin)
        .unwrap_or_else(|_| tower_http::csrf::CsrfLayer::new())
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
