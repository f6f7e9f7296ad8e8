//! What every request can reach: the application's shared state.
//!
//! The composition root (`app.rs`) builds it from the configuration; the plumbing
//! here only says what it holds. Handlers reach the database through `TenantTx` and
//! `SystemTx`, never through [`SharedState::db`] (a test reads the feature folders to
//! keep it so).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tower_sessions::Session;

use crate::auth::passkeys::Passkeys;
use crate::auth::password::PasswordHasher;
use crate::auth::signin::{FlowPages, Step};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::DataKey;
use crate::db::tenant::RequestMeta;
use crate::integrations::mail::Mailer;
use crate::notify::Notifier;
use crate::notify::inbound::SnsVerifier;
use crate::web::live::Hub;
use crate::web::rate_limit::RateLimiter;

/// Everything a handler may need. Cloning is one reference count: every `from_fn_with_state`
/// layer clones the state for each request, and copying a dozen fields (each an `Arc` to
/// count up and down) showed as 7% of a simple page's CPU under load.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    pub fn new(shared: SharedState) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct SharedState {
    pub config: Arc<Config>,
    /// The runtime-role pool, for the plumbing (transactions, the session store, live
    /// updates). Feature code never touches it.
    pub db: PgPool,
    pub clock: SharedClock,
    /// The per-address token bucket every request spends from.
    pub rate_limiter: Arc<RateLimiter>,
    pub auth: Arc<AuthServices>,
    /// The channels automated messages leave by (through the gate, from jobs).
    pub notifier: Notifier,
    /// Checks the signatures of inbound texts.
    pub sns: Arc<SnsVerifier>,
    /// Committed changes from every process, on the channels features listen to.
    pub live: Arc<Hub>,
    /// The sign-in flow's pages, as the features declared them.
    pub pages: FlowPages,
    /// The parts of the product some route belongs to (a clinic may switch these off).
    pub modules: Arc<[crate::auth::policy::Module]>,
}

impl SharedState {
    /// A step of the sign-in flow in this request.
    pub fn sign_in_step<'a>(
        &'a self,
        session: &'a Session,
        request: RequestMeta,
        now: DateTime<Utc>,
    ) -> Step<'a> {
        Step::new(session, &self.config.auth, &self.pages, request, now)
    }

    /// Committed changes on a feature's live `channel`, from every process, for a page's
    /// live updates (the listening connection is the plumbing's, not the handler's).
    pub(crate) fn live_events(
        &self,
        channel: &'static str,
    ) -> tokio::sync::broadcast::Receiver<crate::web::live::LiveEvent> {
        self.live.subscribe(&self.db, channel)
    }
}

/// What authentication needs, built once from the configuration.
pub struct AuthServices {
    /// Argon2id, at most one hash per core at a time.
    pub passwords: PasswordHasher,
    pub data_key: DataKey,
    pub passkeys: Passkeys,
    pub mailer: Arc<dyn Mailer>,
    /// Per-address limits on the endpoints attackers hammer.
    pub sign_in_limit: Arc<RateLimiter>,
    pub second_factor_limit: Arc<RateLimiter>,
    pub reset_limit: Arc<RateLimiter>,
}
