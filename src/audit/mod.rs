//! The audit log: who looked at or changed what, for which patient, why, from where.
//!
//! [`record`] appends one event inside the caller's transaction, so an operation and its
//! audit event commit together or not at all — if the insert fails, the operation fails
//! and no patient data is served. Events are append-only in the database (triggers refuse
//! UPDATE, DELETE and TRUNCATE for every role) and sealed into a hash chain per
//! organization by [`chain::seal_all`]; [`chain::verify`] recomputes the chain.
//!
//! Details carry identifiers and codes only, never PHI: the audit log is read by
//! auditors and support staff who must not see patient data through it.

pub mod chain;

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::ids::{AuditEventId, PatientId};
use crate::db::tenant::{ActorKind, RequestMeta, SystemContext, TenantContext};

/// What happened. Stored as the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    Export,
    Login,
    LoginFailed,
    Logout,
    MfaChallengePassed,
    MfaChallengeFailed,
    MfaEnrolled,
    MfaRemoved,
    PasswordChanged,
    PasswordResetRequested,
    RecoveryCodesGenerated,
    SessionsEnded,
    /// An account was disabled: it cannot sign in and its sessions ended.
    AccountDisabled,
    EmailChanged,
    InvitationSent,
    InvitationAccepted,
    ConsentAccepted,
    ConsentWithdrawn,
    ContextEntered,
    /// The authorization policy refused; see `details.reason`.
    AuthzDenied,
    /// A request in a clinic's context failed on the server (a statement cancelled at
    /// its time limit, a broken invariant); nothing it did was kept.
    RequestFailed,
    /// An automated message went out (details: channel, destination hash, flag version).
    MessageSent,
    /// The contact gate refused an automated message (details: the reason).
    MessageBlocked,
    /// A channel refused or failed to take an automated message.
    MessageFailed,
    /// A number replied STOP (or START) to our texts.
    TextOptOutChanged,
    BreakGlassStarted,
    BreakGlassEnded,
    BreakGlassReviewed,
    ImpersonationStarted,
    ImpersonationStopped,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Export => "export",
            Self::Login => "login",
            Self::LoginFailed => "login_failed",
            Self::Logout => "logout",
            Self::MfaChallengePassed => "mfa_challenge_passed",
            Self::MfaChallengeFailed => "mfa_challenge_failed",
            Self::MfaEnrolled => "mfa_enrolled",
            Self::MfaRemoved => "mfa_removed",
            Self::PasswordChanged => "password_changed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::RecoveryCodesGenerated => "recovery_codes_generated",
            Self::SessionsEnded => "sessions_ended",
            Self::AccountDisabled => "account_disabled",
            Self::EmailChanged => "email_changed",
            Self::InvitationSent => "invitation_sent",
            Self::InvitationAccepted => "invitation_accepted",
            Self::ConsentAccepted => "consent_accepted",
            Self::ConsentWithdrawn => "consent_withdrawn",
            Self::ContextEntered => "context_entered",
            Self::AuthzDenied => "authz_denied",
            Self::RequestFailed => "request_failed",
            Self::MessageSent => "message_sent",
            Self::MessageBlocked => "message_blocked",
            Self::MessageFailed => "message_failed",
            Self::TextOptOutChanged => "text_opt_out_changed",
            Self::BreakGlassStarted => "break_glass_started",
            Self::BreakGlassEnded => "break_glass_ended",
            Self::BreakGlassReviewed => "break_glass_reviewed",
            Self::ImpersonationStarted => "impersonation_started",
            Self::ImpersonationStopped => "impersonation_stopped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failure => "failure",
        }
    }
}

/// One event, before the actor and request details are added from the context.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub action: Action,
    pub resource_type: Option<&'static str>,
    pub resource_id: Option<Uuid>,
    pub patient_id: Option<PatientId>,
    /// Why: the purpose of use or the chart section (`chart.demographics`, `treatment`).
    pub purpose: Option<String>,
    pub outcome: Outcome,
    /// Identifiers and codes only. Never names, dates of birth, numbers or note text.
    pub details: Value,
}

/// The patients a list showed (a schedule, search results, a task list), for its one
/// read event: every id once, in a stable order. A list is a disclosure of each patient
/// on it, so "who saw my name on the schedule" has an answer, not only a count.
pub fn shown_patients(ids: impl IntoIterator<Item = PatientId>) -> Value {
    if cfg!(feature = "bench-list-audit-counts") {
        // The benchmarks' baseline build only (see Cargo.toml): the count alone.
        return Value::Null;
    }
    let mut ids: Vec<String> = ids.into_iter().map(|id| id.to_string()).collect();
    ids.sort();
    ids.dedup();
    Value::from(ids)
}

impl AuditEvent {
    pub fn new(action: Action, outcome: Outcome) -> Self {
        Self {
            action,
            resource_type: None,
            resource_id: None,
            patient_id: None,
            purpose: None,
            outcome,
            details: Value::Object(Default::default()),
        }
    }

    /// A successful action on a resource.
    pub fn success(action: Action, resource_type: &'static str, resource_id: impl Into<Uuid>) -> Self {
        Self::new(action, Outcome::Success).resource(resource_type, resource_id)
    }

    /// A refusal by the authorization policy, with its machine-readable reason.
    pub fn denied(resource_type: &'static str, resource_id: Option<Uuid>, reason: &'static str) -> Self {
        let mut event = Self::new(Action::AuthzDenied, Outcome::Denied);
        event.resource_type = Some(resource_type);
        event.resource_id = resource_id;
        event.details = serde_json::json!({ "reason": reason });
        event
    }

    pub(crate) fn resource(mut self, resource_type: &'static str, resource_id: impl Into<Uuid>) -> Self {
        self.resource_type = Some(resource_type);
        self.resource_id = Some(resource_id.into());
        self
    }

    pub fn patient(mut self, patient_id: PatientId) -> Self {
        self.patient_id = Some(patient_id);
        self
    }

    pub fn purpose(mut self, purpose: impl Into<String>) -> Self {
        self.purpose = Some(purpose.into());
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// Appends `event` for `context`'s organization, inside the caller's transaction.
pub async fn record(
    conn: &mut PgConnection,
    context: &TenantContext,
    event: &AuditEvent,
) -> Result<AuditEventId, sqlx::Error> {
    insert(
        conn,
        Some(context.organization_id.as_uuid()),
        context.user_id.map(|u| u.as_uuid()),
        context.actor_kind,
        context.acting_for.map(|u| u.as_uuid()),
        // Under break-glass: what concerns its patient (or no patient in particular).
        context.break_glass.is_some_and(|b| event.patient_id.is_none_or(|p| p == b.patient_id)),
        context.role.as_deref(),
        &context.request,
        event,
    )
    .await
}

/// Appends a platform event (no organization: sign-in, platform console) inside a system
/// transaction.
pub(crate) async fn record_platform(
    conn: &mut PgConnection,
    context: &SystemContext,
    event: &AuditEvent,
) -> Result<AuditEventId, sqlx::Error> {
    let actor_kind = if context.user_id.is_some() { ActorKind::User } else { ActorKind::System };
    insert(
        conn,
        None,
        context.user_id.map(|u| u.as_uuid()),
        actor_kind,
        None,
        false,
        None,
        &context.request,
        event,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    conn: &mut PgConnection,
    organization_id: Option<Uuid>,
    actor_user_id: Option<Uuid>,
    actor_kind: ActorKind,
    acting_for: Option<Uuid>,
    break_glass: bool,
    role: Option<&str>,
    request: &RequestMeta,
    event: &AuditEvent,
) -> Result<AuditEventId, sqlx::Error> {
    let id = AuditEventId::new();
    let ip = request.ip.map(|ip| ip.to_string());
    sqlx::query!(
        r#"INSERT INTO audit_events
               (id, organization_id, actor_user_id, actor_kind, acting_for_user_id, break_glass, role,
                action, resource_type, resource_id, patient_id, purpose, outcome, request_id, ip,
                user_agent, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::text::inet, $16, $17)"#,
        id.as_uuid(),
        organization_id,
        actor_user_id,
        actor_kind.as_str(),
        acting_for,
        break_glass,
        role,
        event.action.as_str(),
        event.resource_type,
        event.resource_id,
        event.patient_id.map(|p| p.as_uuid()),
        event.purpose.as_deref(),
        event.outcome.as_str(),
        request.request_id.as_deref(),
        ip,
        request.user_agent.as_deref().map(|ua| truncate(ua, 500)),
        event.details,
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Creates the monthly audit partitions from last month to `months_ahead` months ahead.
/// Idempotent; called at start-up and (later) by the scheduled partition job.
pub(crate) async fn ensure_partitions(
    conn: &mut PgConnection,
    months_ahead: i32,
) -> Result<i32, sqlx::Error> {
    let created = sqlx::query_scalar!(
        r#"SELECT audit_ensure_partitions((now() - interval '1 month')::date,
                                          (now() + make_interval(months => $1))::date) AS "created!""#,
        months_ahead
    )
    .fetch_one(conn)
    .await?;
    Ok(created)
}
