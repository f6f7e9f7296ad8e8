//! `TenantTx`: the one way a handler reaches the database.
//!
//! Extracting a `TenantTx` opens a transaction for the request's context (tenant, user,
//! impersonation, break-glass set transaction-locally in the same round trip as BEGIN).
//! The handler never commits: [`finish`], the innermost middleware, commits when the
//! response is a success (2xx/3xx) and rolls back otherwise. A failed commit replaces
//! the response with an error page, so patient data is never sent unless its audit event
//! is durable. Denials recorded through [`TenantTx::authorize`] survive a rollback: they
//! are written after it, in a transaction of their own.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::audit::{self, AuditEvent};
use crate::auth::contexts;
use crate::auth::middleware::Authenticated;
use crate::auth::policy::{
    self, ChartAccess, Decision, Denial, Permission, PolicyContext, Principal, Target,
};
use crate::db::tenant::{ActorKind, RequestMeta, TenantContext, begin_tenant};
use crate::web::client_ip::ClientIp;
use crate::web::error::sqlx_variant;
use crate::web::request_id::RequestId;
use crate::web::routes::claim_role;
use crate::web::{AppError, AppResult, AppState};

/// The context a request acts in, established by authentication (tenant, person, role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveContext {
    pub tenant: TenantContext,
    pub principal: Principal,
    pub chart_access: ChartAccess,
}

struct OpenTx {
    tx: Transaction<'static, Postgres>,
    /// The context the transaction was opened with, for writing denials.
    tenant: TenantContext,
    denials: Vec<AuditEvent>,
}

/// Shared between the request's `TenantTx` (if any) and [`finish`].
#[derive(Clone, Default)]
struct TxSlot(Arc<Mutex<Option<OpenTx>>>);

/// A transaction scoped to the request's organization. See the module documentation.
pub struct TenantTx {
    slot: TxSlot,
    context: Arc<ActiveContext>,
    now: DateTime<Utc>,
}

/// The connection inside a [`TenantTx`], for `sqlx` queries: `.fetch_one(&mut *db)`.
pub type TxConn<'a> = MappedMutexGuard<'a, PgConnection>;

impl FromRequestParts<AppState> for TenantTx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = parts.extensions.get::<Authenticated>().cloned().ok_or(AppError::Unauthorized)?;
        let claim = auth.context.ok_or(AppError::Unauthorized)?;
        let organization_id = claim.organization_id().ok_or(AppError::Forbidden)?;
        let slot = parts.extensions.get::<TxSlot>().cloned().ok_or_else(|| {
            tracing::error!(error.kind = "wiring", "TenantTx used on a route without the finishing layer");
            AppError::Internal
        })?;
        let tenant = TenantContext {
            organization_id,
            user_id: Some(auth.user_id),
            actor_kind: ActorKind::User,
            role: Some(claim_role(&claim).to_owned()),
            acting_for: None,
            break_glass: None,
            request: request_meta(&parts.extensions, &parts.headers),
        };
        let now = state.clock.now();
        let mut tx = begin_tenant(&state.db, &tenant).await?;
        // The claimed context is checked again on every request, in this transaction: a
        // membership ended or a proxy grant revoked a moment ago is refused now.
        let Some(resolved) = contexts::resolve(&mut tx, auth.user_id, claim, now).await? else {
            tx.rollback().await?;
            return Err(AppError::ContextEnded);
        };
        *slot.0.lock().await = Some(OpenTx { tx, tenant: tenant.clone(), denials: Vec::new() });
        let context =
            ActiveContext { tenant, principal: resolved.principal, chart_access: resolved.chart_access };
        Ok(Self { slot, context: Arc::new(context), now })
    }
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
pub fn request_meta(extensions: &axum::http::Extensions, headers: &axum::http::HeaderMap) -> RequestMeta {
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

    /// Appends an audit event in this transaction.
    pub async fn audit(&self, event: &AuditEvent) -> AppResult<()> {
        let mut conn = self.conn().await?;
        audit::record(&mut conn, &self.context.tenant, event).await?;
        Ok(())
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
        let context = PolicyContext {
            principal: self.context.principal,
            chart_access: self.context.chart_access,
            now: self.now,
        };
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
    let OpenTx { mut tx, tenant, denials } = open;
    let succeeded = response.status().is_success() || response.status().is_redirection();
    if succeeded {
        let result = async {
            for event in &denials {
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
    if response.status().is_server_error() {
        // The work is gone with the rollback; that it failed is kept (FLT-04: a statement
        // cancelled at its time limit is on record, with the request id to find the log).
        let mut failed = AuditEvent::new(audit::Action::RequestFailed, audit::Outcome::Failure);
        failed.details = serde_json::json!({ "status": response.status().as_u16() });
        events.push(failed);
    }
    if !events.is_empty() {
        record_after_rollback(&state.db, &tenant, &events).await;
    }
    response
}

/// Writes denial events in a transaction of their own (the request's was rolled back).
pub async fn record_after_rollback(pool: &PgPool, tenant: &TenantContext, events: &[AuditEvent]) {
    let result = async {
        let mut tx = begin_tenant(pool, tenant).await?;
        for event in events {
            audit::record(&mut tx, tenant, event).await?;
        }
        tx.commit().await
    }
    .await;
    if let Err(error) = result {
        tracing::error!(
            error.kind = "audit",
            error.variant = sqlx_variant(&error),
            "could not record authorization denials"
        );
    }
}
