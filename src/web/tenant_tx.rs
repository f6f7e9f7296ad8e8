//! `TenantTx`: the one way a handler reaches the database.
//!
//! Extracting a `TenantTx` opens a transaction for the request's context (tenant, user,
//! impersonation, break-glass set transaction-locally in the same round trip as BEGIN).
//! The handler never commits: [`finish`], the innermost middleware, commits when the
//! response is a success (2xx/3xx) and rolls back otherwise, so a failed request changes
//! nothing. A failed commit replaces the response with an error page, so patient data is
//! never sent unless its audit event is durable.
//!
//! What a response *shows* is on record whatever its status: a 409 or 422 page that
//! re-renders a chart (a taken slot, a form to correct) is a disclosure like a 200.
//! Read events recorded through [`TenantTx::audit`] and denials recorded through
//! [`TenantTx::authorize`] therefore survive a rollback — they are written again after
//! it, in a transaction of their own, with the status the person was answered with; if
//! that write fails, the page is replaced by an error page that shows nothing (patient
//! data never leaves without its record). Events of changes do not survive: the change
//! they describe was rolled back.
//!
//! Opening the transaction also checks the context again (a revoked grant ends at the
//! next request), the clinic's current idle limit (a clinic that shortens it reaches
//! sessions already open), and resolves the timezone times are shown in, once.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::audit::{self, Action, AuditEvent};
use crate::auth::contexts;
use crate::auth::policy::{
    self, ChartAccess, Decision, Denial, Permission, PolicyContext, Principal, Target,
};
use crate::auth::session;
use crate::auth::signin::{self, FlowPage};
use crate::db::errors::sqlx_variant;
use crate::db::ids::PatientId;
use crate::db::tenant::{ActorKind, BreakGlass, RequestMeta, TenantContext, begin_tenant, unscoped};
use crate::error::{AppError, AppResult};
use crate::web::AppState;
use crate::web::authenticate::{Authenticated, SessionExpired};
use crate::web::client_ip::ClientIp;
use crate::web::context::{ChartTabs, RouteModule, claim_role, redirect};
use crate::web::request_id::RequestId;

/// The context a request acts in, established by authentication (tenant, person, role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveContext {
    pub tenant: TenantContext,
    pub principal: Principal,
    pub chart_access: ChartAccess,
    /// Where times are shown: the person's own timezone if they chose one, else the
    /// clinic's.
    pub timezone: Tz,
    /// The clinic's timezone (working hours and the schedule's days are in it).
    pub clinic_timezone: Tz,
}

impl ActiveContext {
    /// What the policy is asked with, at `now`.
    pub fn policy(&self, now: DateTime<Utc>) -> PolicyContext {
        PolicyContext {
            principal: self.principal,
            chart_access: self.chart_access,
            now,
            break_glass: self.tenant.break_glass.map(|b| (b.patient_id, b.expires_at)),
        }
    }
}

struct OpenTx {
    tx: Transaction<'static, Postgres>,
    /// The context the transaction was opened with, for writing denials.
    tenant: TenantContext,
    denials: Vec<AuditEvent>,
    /// What the response discloses, recorded again if the transaction rolls back.
    reads: Vec<AuditEvent>,
    /// Charts opened (their header is on any page that frames them), and the patients
    /// some event of this request names.
    disclosed: Vec<PatientId>,
    named: Vec<PatientId>,
}

impl OpenTx {
    /// A read of the chart header for each opened chart that none of `recorded` names, so
    /// a framed page is never without its record.
    fn unrecorded_headers(&self, recorded: &[PatientId]) -> Vec<AuditEvent> {
        let mut events = Vec::new();
        for patient in &self.disclosed {
            if !recorded.contains(patient)
                && !events.iter().any(|e: &AuditEvent| e.patient_id == Some(*patient))
            {
                events.push(
                    AuditEvent::success(Action::Read, "patient", *patient)
                        .patient(*patient)
                        .purpose("chart.header"),
                );
            }
        }
        events
    }
}

/// Shared between the request's `TenantTx` (if any) and [`finish`].
#[derive(Clone, Default)]
struct TxSlot(Arc<Mutex<Option<OpenTx>>>);

/// A transaction scoped to the request's organization. See the module documentation.
pub struct TenantTx {
    slot: TxSlot,
    context: Arc<ActiveContext>,
    now: DateTime<Utc>,
    /// The chart's tabs, as the features declared them.
    chart_tabs: ChartTabs,
}

/// The connection inside a [`TenantTx`], for `sqlx` queries: `.fetch_one(&mut *db)`.
pub(crate) type TxConn<'a> = MappedMutexGuard<'a, PgConnection>;

impl FromRequestParts<AppState> for TenantTx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or_else(|| AppError::Unauthorized.into_response())?;
        let claim = auth.context.ok_or_else(|| AppError::Unauthorized.into_response())?;
        let organization_id = claim.organization_id().ok_or_else(|| AppError::Forbidden.into_response())?;
        let slot = parts.extensions.get::<TxSlot>().cloned().ok_or_else(|| {
            tracing::error!(error.kind = "wiring", "TenantTx used on a route without the finishing layer");
            AppError::Internal.into_response()
        })?;
        let mut tenant = TenantContext {
            organization_id,
            user_id: Some(auth.user_id),
            actor_kind: ActorKind::User,
            role: Some(claim_role(&claim).to_owned()),
            // While impersonating: the member acted as (their view and permissions).
            acting_for: auth.impersonating.map(|(_, target)| target),
            break_glass: None,
            request: request_meta(&parts.extensions, &parts.headers),
        };
        let now = state.clock.now();
        let mut tx = begin_tenant(&state.db, &tenant).await.map_err(|e| AppError::from(e).into_response())?;
        // The claimed context is checked again on every request, in this transaction: a
        // membership ended or a proxy grant revoked a moment ago is refused now. While
        // impersonating, for the member acted as, and the administrator's own standing and
        // the impersonation's record must hold too.
        let person = tenant.person().unwrap_or(auth.user_id);
        let impersonation_holds = match auth.impersonating {
            Some((record, _)) => contexts::impersonation_holds(&mut tx, record, auth.user_id).await,
            None => Ok(true),
        };
        let resolved = match impersonation_holds {
            Ok(true) => contexts::resolve(&mut tx, person, claim, now).await,
            Ok(false) => Ok(None),
            Err(error) => Err(error),
        };
        let mut resolved = match resolved {
            Ok(Some(resolved)) => resolved,
            Ok(None) => {
                tx.rollback().await.map_err(|e| AppError::from(e).into_response())?;
                return Err(AppError::ContextEnded.into_response());
            }
            Err(error) => return Err(AppError::from(error).into_response()),
        };
        if tenant.acting_for.is_some() {
            // Another person's emergency access is theirs alone.
            resolved.break_glass = None;
        }
        // The clinic's modules as they are now: a part switched off a moment ago is gone
        // for this request, and the session's copy (the header, the early refusal) follows.
        if resolved.disabled_modules != auth.disabled_modules {
            let modules = resolved.disabled_modules.clone();
            update_session_user(parts, state, move |user| user.disabled_modules = modules)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        if let Some(RouteModule(module)) = parts.extensions.get::<RouteModule>().copied()
            && resolved.disabled_modules.contains(&module)
        {
            tx.rollback().await.map_err(|e| AppError::from(e).into_response())?;
            return Err(AppError::NotFound.into_response());
        }
        // The clinic's idle limit as it is now, not as it was when the context was entered.
        let default =
            if claim.is_workforce() { state.config.auth.staff_idle } else { state.config.auth.patient_idle };
        let default = u32::try_from(default.as_secs() / 60).unwrap_or(15);
        // The session's own limit was applied by the authentication layer; only a limit
        // the clinic has shortened since the context was entered is applied here.
        let idle = signin::idle_minutes(default, resolved.idle_minutes);
        if idle < auth.idle_minutes {
            if now - auth.last_activity >= TimeDelta::minutes(i64::from(idle)) {
                drop(tx);
                return Err(idle_ended(parts, state).await);
            }
            update_session_user(parts, state, move |user| user.idle_minutes = idle)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        // Emergency access: every event about its patient is marked break_glass.
        tenant.break_glass =
            resolved.break_glass.map(|(patient_id, expires_at)| BreakGlass { patient_id, expires_at });
        *slot.0.lock().await = Some(OpenTx {
            tx,
            tenant: tenant.clone(),
            denials: Vec::new(),
            reads: Vec::new(),
            disclosed: Vec::new(),
            named: Vec::new(),
        });
        let clinic_timezone: Tz = resolved.clinic_timezone.parse().unwrap_or(Tz::UTC);
        let timezone = resolved.viewer_timezone.and_then(|zone| zone.parse().ok()).unwrap_or(clinic_timezone);
        let context = ActiveContext {
            tenant,
            principal: resolved.principal,
            chart_access: resolved.chart_access,
            timezone,
            clinic_timezone,
        };
        let chart_tabs = parts.extensions.get::<ChartTabs>().cloned().unwrap_or_default();
        Ok(Self { slot, context: Arc::new(context), now, chart_tabs })
    }
}

/// The clinic's limit passed since the last action: the session ends here, as it would
/// have in the authentication layer had the limit been the session's own.
async fn idle_ended(parts: &mut Parts, state: &AppState) -> Response {
    if let Some(session) = parts.extensions.get::<tower_sessions::Session>().cloned() {
        let id = session.id().map(|id| id.to_string());
        let user = parts.extensions.get::<Authenticated>().map(|a| a.user_id);
        if let Err(error) = session::end(&session).await {
            return error.into_response();
        }
        if let Some(user) = user {
            let result = async {
                let context = crate::db::tenant::SystemContext { user_id: Some(user), ..Default::default() };
                let mut tx = crate::db::tenant::begin_system(&state.db, &context).await?;
                crate::auth::sessions::forget(&mut tx, id).await?;
                tx.commit().await
            }
            .await;
            if let Err(error) = result {
                tracing::warn!(error.variant = sqlx_variant(&error), "session index entry not removed");
            }
        }
    }
    parts.extensions.insert(SessionExpired);
    redirect(&parts.headers, state.pages.path(FlowPage::SignIn))
}

/// Writes what the clinic changed since the context was entered (a shorter idle limit,
/// its modules) into the session, so the pages outside the clinic's transaction (the
/// account page, the header) hold to it too.
async fn update_session_user(
    parts: &Parts,
    state: &AppState,
    change: impl FnOnce(&mut session::SignedIn),
) -> AppResult<()> {
    let Some(session) = parts.extensions.get::<tower_sessions::Session>() else { return Ok(()) };
    let mut data = session::load(session).await?;
    let Some(user) = data.user.as_mut() else { return Ok(()) };
    change(user);
    let now = state.clock.now();
    session::store(session, &data, session::expiry_for(&data, now, state.config.auth.absolute_limit())).await
}

/// Extracts where the request came from, for handlers that audit outside a TenantTx
/// (sign-in events).
#[derive(Debug, Clone)]
pub struct RequestInfo(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for RequestInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(request_meta(&parts.extensions, &parts.headers)))
    }
}

/// Where a request came from (request id, client address, user agent), for audit.
pub(crate) fn request_meta(
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
) -> RequestMeta {
    RequestMeta {
        request_id: extensions.get::<RequestId>().map(|r| r.0.clone()),
        ip: extensions.get::<ClientIp>().map(|ip| ip.0),
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

impl TenantTx {
    /// The connection, for queries. Hold it only while querying.
    pub async fn conn(&self) -> AppResult<TxConn<'_>> {
        MutexGuard::try_map(self.slot.0.lock().await, |open| open.as_mut().map(|o| &mut *o.tx))
            .map_err(|_| AppError::Internal)
    }

    pub fn context(&self) -> &ActiveContext {
        &self.context
    }

    /// The request's time, from the application clock (tests move it).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The chart's tabs, as the features declared them (for the chart frame).
    pub fn chart_tabs(&self) -> &ChartTabs {
        &self.chart_tabs
    }

    /// Appends an audit event in this transaction. A read (what the response will show)
    /// is also kept aside: if the request ends in a 4xx and rolls back, the page still
    /// showed what it read, and the read is recorded again after the rollback.
    pub async fn audit(&self, event: &AuditEvent) -> AppResult<()> {
        let mut guard = self.slot.0.lock().await;
        let open = guard.as_mut().ok_or(AppError::Internal)?;
        audit::record(&mut open.tx, &self.context.tenant, event).await?;
        if let Some(patient) = event.patient_id {
            open.named.push(patient);
        }
        if event.action == Action::Read {
            open.reads.push(event.clone());
        }
        Ok(())
    }

    /// Runs platform `work` (people, who belong to no clinic) in this request's transaction
    /// with the tenant lifted while it runs (see `db::tenant::unscoped`).
    pub(crate) async fn platform<T>(
        &self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> AppResult<T> {
        let mut conn = self.conn().await?;
        Ok(unscoped(&mut conn, &self.context.tenant, work).await?)
    }

    /// Notes that the response will show `patient`'s chart header (the chart frame opens with it).
    pub(crate) async fn disclosed(&self, patient: PatientId) {
        if let Some(open) = self.slot.0.lock().await.as_mut() {
            open.disclosed.push(patient);
        }
    }

    /// The thing asked for is not visible in this context (absent, or another tenant's —
    /// row-level security makes the two indistinguishable, as they should be). Records an
    /// `authz_denied` event, which survives the rollback, and returns the 404 to send.
    pub async fn not_found(&self, resource: &'static str, resource_id: uuid::Uuid) -> AppError {
        let event = AuditEvent::denied(resource, Some(resource_id), "not_visible_to_context");
        if let Some(open) = self.slot.0.lock().await.as_mut() {
            open.denials.push(event);
        }
        AppError::NotFound
    }

    /// Asks the policy. A refusal is recorded as an `authz_denied` event (kept even though
    /// the request's transaction rolls back) and becomes 404 (hidden) or 403 (not
    /// permitted) for the handler to return with `?`.
    pub async fn authorize(
        &self,
        permission: Permission,
        target: Target,
        resource: &'static str,
    ) -> AppResult<()> {
        let context = self.context.policy(self.now);
        let decision = policy::may(&context, permission, target);
        if let Decision::Deny(denial) = decision {
            let (resource_id, patient) = match target {
                Target::Patient(facts) => (Some(facts.patient_id.as_uuid()), Some(facts.patient_id)),
                Target::Organization => (None, None),
            };
            let mut event = AuditEvent::denied(resource, resource_id, decision.reason());
            event.patient_id = patient;
            event.purpose = Some(format!("{permission:?}"));
            if let Some(open) = self.slot.0.lock().await.as_mut() {
                open.denials.push(event);
            }
            return Err(match denial {
                Denial::Hidden => AppError::NotFound,
                Denial::NotPermitted => AppError::Forbidden,
            });
        }
        Ok(())
    }
}

/// Innermost middleware: gives each request a slot for its transaction, and after the
/// handler commits (success) or rolls back (anything else).
pub async fn finish(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = TxSlot::default();
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;

    let Some(open) = slot.0.lock().await.take() else {
        return response;
    };
    let succeeded = response.status().is_success() || response.status().is_redirection();
    // On success any event naming the patient will stand; after a rollback only reads do.
    let headers = if succeeded {
        open.unrecorded_headers(&open.named)
    } else {
        open.unrecorded_headers(&open.reads.iter().filter_map(|e| e.patient_id).collect::<Vec<_>>())
    };
    let OpenTx { mut tx, tenant, denials, reads, .. } = open;
    if succeeded {
        let result = async {
            for event in denials.iter().chain(&headers) {
                audit::record(&mut tx, &tenant, event).await?;
            }
            tx.commit().await
        }
        .await;
        return match result {
            Ok(()) => response,
            // The response may hold patient data whose audit event did not persist: it is
            // dropped and replaced by an error page.
            Err(error) => AppError::from(error).into_response(),
        };
    }
    if let Err(error) = tx.rollback().await {
        tracing::warn!(
            error.kind = "rollback",
            error.variant = sqlx_variant(&error),
            "rollback failed; the connection is discarded"
        );
    }
    let mut events = denials;
    // A page was still sent (a form to correct, a taken slot): what it showed stays on
    // record, with the answer. A bare refusal (403, 404) showed nothing.
    let shows_data = response.status().is_client_error() && crate::web::render::renders_page(&response);
    if shows_data {
        let status = response.status().as_u16();
        events.extend(reads.into_iter().chain(headers).map(|mut event| {
            if let serde_json::Value::Object(details) = &mut event.details {
                details.insert("answer_status".into(), status.into());
            } else {
                event.details = serde_json::json!({ "answer_status": status });
            }
            event
        }));
    }
    if response.status().is_server_error() {
        // The work is gone with the rollback; that it failed is kept (FLT-04: a statement
        // cancelled at its time limit is on record, with the request id to find the log).
        let mut failed = AuditEvent::new(Action::RequestFailed, audit::Outcome::Failure);
        failed.details = serde_json::json!({ "status": response.status().as_u16() });
        events.push(failed);
    }
    if !events.is_empty()
        && let Err(error) = record_after_rollback(&state.db, &tenant, &events).await
        && shows_data
    {
        // Patient data is never sent without its audit event: the page that would have
        // shown it is replaced by an error page that shows nothing.
        return AppError::from(error).into_response();
    }
    response
}

/// Writes events in a transaction of their own (the request's was rolled back): denials,
/// what an error page showed, that a request failed. A failure is logged and returned, so
/// a page showing patient data is not sent without its record.
pub(crate) async fn record_after_rollback(
    pool: &PgPool,
    tenant: &TenantContext,
    events: &[AuditEvent],
) -> Result<(), sqlx::Error> {
    let result = async {
        let mut tx = begin_tenant(pool, tenant).await?;
        for event in events {
            audit::record(&mut tx, tenant, event).await?;
        }
        tx.commit().await
    }
    .await;
    if let Err(error) = &result {
        tracing::error!(
            error.kind = "audit",
            error.variant = sqlx_variant(error),
            "could not record the audit events of a rolled-back request"
        );
    }
    result
}
