//! The composition root: the one place that knows every feature.
//!
//! It builds the application state from the configuration, lists every feature's routes,
//! and names every job kind the workers run. Everything below it (the plumbing in
//! `web/`, `auth/`, `jobs/`, `notify/`, and each feature) stays ignorant of the rest;
//! `main` and the tests start the application only through here, so they run the same
//! thing.

use std::sync::Arc;

use axum::Router;
use sqlx::PgPool;

use crate::auth::passkeys::Passkeys;
use crate::auth::password::PasswordHasher;
use crate::clock::SharedClock;
use crate::config::{Config, Environment, RateLimit};
use crate::crypto::DataKey;
use crate::jobs::Registry;
use crate::notify::Notifier;
use crate::notify::inbound::SnsVerifier;
use crate::web::rate_limit::RateLimiter;
use crate::web::{AppState, AuthServices, Routes, SharedState};

/// The application's state for `config`, over the runtime-role pool `db`.
pub fn state(config: Config, db: PgPool, clock: SharedClock) -> anyhow::Result<AppState> {
    if cfg!(feature = "bench-list-audit-counts") && config.is_production() {
        anyhow::bail!(
            "a benchmark build (its lists' audit events leave out whose data they showed) never serves production"
        );
    }
    let rate_limiter = Arc::new(RateLimiter::new(config.http.rate_limit));
    rate_limiter.spawn_pruning(clock.clone());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // Ten attempts at once, then one every five seconds, per client address.
    let auth_limit = || {
        let limiter = Arc::new(RateLimiter::new(Some(RateLimit { per_second: 0.2, burst: 10 })));
        limiter.spawn_pruning(clock.clone());
        limiter
    };
    // The development channels write through a pool of their own (see there); the
    // database is not touched until a message is actually kept.
    let channel_db = crate::db::development_channel_pool(&config.database).unwrap_or_else(|_| db.clone());
    let mailer = crate::integrations::mail::from_config(&config.mail, channel_db.clone())?;
    let notifier = Notifier::from_config(&config, &channel_db, mailer.clone());
    let pinned = match &config.messaging.sns_certificate_file {
        Some(path) => {
            Some(std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?)
        }
        None => None,
    };
    let config_allows_sha1 = config.messaging.sns_allow_sha1;
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
    let declared = routes(&config);
    let pages = declared.flow_pages().map_err(anyhow::Error::msg)?;
    let modules = declared.modules().into();
    Ok(AppState::new(SharedState {
        config: Arc::new(config),
        db,
        clock,
        rate_limiter,
        auth: Arc::new(auth),
        notifier,
        sns: Arc::new(SnsVerifier::new(pinned, config_allows_sha1)),
        live: Arc::default(),
        pages,
        modules,
    }))
}

/// Every feature's declared routes. The development pages are mounted only in
/// development; tests merge extra declared routes into this and wrap the result with
/// [`crate::web::pipeline::app`] as [`build_app`] does.
pub fn routes(config: &Config) -> Routes {
    let routes = Routes::new()
        .merge(crate::home::routes())
        .merge(crate::health::routes())
        .merge(crate::web::assets::routes())
        .merge(crate::signin::routes())
        .merge(crate::account::routes())
        .merge(crate::contexts::routes())
        .merge(crate::invitations::routes())
        .merge(crate::members::routes())
        .merge(crate::profiles::routes())
        .merge(crate::clinic_profile::routes())
        .merge(crate::consent_documents::routes())
        .merge(crate::platform_clinics::routes())
        .merge(crate::platform_health::routes())
        .merge(crate::break_glass::routes())
        .merge(crate::impersonation::routes())
        .merge(crate::audit_search::routes())
        .merge(crate::platform_roles::routes())
        .merge(crate::clinic_settings::routes())
        .merge(crate::patient_access::routes())
        .merge(crate::patients::routes())
        .merge(crate::contacts::routes())
        .merge(crate::care_team::routes())
        .merge(crate::allergies::routes())
        .merge(crate::problems::routes())
        .merge(crate::medications::routes())
        .merge(crate::vitals::routes())
        .merge(crate::insurance::routes())
        .merge(crate::emergency_contacts::routes())
        .merge(crate::merges::routes())
        .merge(crate::homes::routes())
        .merge(crate::appointments::routes())
        .merge(crate::notes::routes())
        .merge(crate::text_messages::routes())
        .merge(crate::tasks::routes());
    match config.environment {
        Environment::Development => routes.merge(crate::dev::routes()),
        Environment::Production => routes,
    }
}

/// The whole application for `state`: every feature's routes behind the middleware stack.
pub(crate) fn build_app(state: AppState) -> Router {
    let routes = routes(&state.config);
    crate::web::pipeline::app(state, routes)
}

/// Every job kind `lockdev serve` and `lockdev worker` run.
pub fn job_kinds(notifier: &Notifier) -> Registry {
    Registry::new()
        .with(crate::jobs::kinds::SealAudit)
        .with(crate::jobs::kinds::AuditPartitions)
        .with(crate::jobs::kinds::SessionCleanup)
        .with(crate::jobs::kinds::PruneJobs)
        .with(crate::notify::inbound::ForgetDeliveries)
        .with(crate::notify::reminders::PlanAllReminders)
        .with(crate::notify::reminders::PlanReminders)
        .with(crate::notify::jobs::SendNotification::new(notifier.clone()))
        .with(crate::notify::jobs::SendAccountEmail::new(notifier.clone()))
        .with(crate::homes::LicenceTasksAll)
        .with(crate::homes::LicenceTasks)
}
