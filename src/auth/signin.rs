//! The steps of signing in, shared by every way in (password, passkey, invitation,
//! reset): start a session after the first factor, complete the second, enter a context,
//! sign out. Each privilege change cycles the session id and is audited.

use chrono::{DateTime, TimeDelta, Utc};
use tower_sessions::Session;

use crate::audit::{self, Action, AuditEvent, Outcome};
use crate::auth::contexts;
use crate::auth::session::{self, ContextClaim, SessionData, SignedIn};
use crate::auth::sessions;
use crate::db::ids::UserId;
use crate::db::tenant::{RequestMeta, SystemContext, TenantContext, begin_system, begin_tenant};
use crate::web::{AppError, AppResult, AppState};

/// Step-up: sensitive changes need a proof of identity at most this old.
pub const STEP_UP_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// How the first factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstFactor {
    Password,
    /// A passkey with user verification: two factors at once.
    Passkey,
}

fn absolute(state: &AppState) -> TimeDelta {
    TimeDelta::from_std(state.config.auth.absolute).unwrap_or(TimeDelta::hours(12))
}

fn minutes(duration: std::time::Duration) -> u32 {
    u32::try_from(duration.as_secs() / 60).unwrap_or(15)
}

/// What sign-in needs to know about a person's factors and roles.
struct FactorFacts {
    required: bool,
    enrolled: bool,
}

async fn factor_facts(state: &AppState, user: UserId) -> AppResult<FactorFacts> {
    let mut tx =
        begin_system(&state.db, &SystemContext { user_id: Some(user), ..Default::default() }).await?;
    let row = sqlx::query!(
        r#"SELECT
             EXISTS (SELECT 1 FROM user_contexts uc WHERE uc.user_id = $1 AND uc.active AND uc.kind = 'staff')
             OR EXISTS (SELECT 1 FROM platform_roles pr WHERE pr.user_id = $1 AND pr.revoked_at IS NULL)
             OR EXISTS (SELECT 1 FROM user_contexts uc JOIN organizations o ON o.id = uc.organization_id
                         WHERE uc.user_id = $1 AND uc.active
                           AND (o.settings ->> 'require_patient_mfa')::boolean IS TRUE) AS "required!",
             EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = $1 AND t.confirmed_at IS NOT NULL)
             OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = $1 AND p.disabled_at IS NULL) AS "enrolled!""#,
        user.as_uuid()
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(FactorFacts { required: row.required, enrolled: row.enrolled })
}

/// Records a platform-level audit event (sign-in events belong to no clinic).
pub async fn audit_platform(
    state: &AppState,
    user: Option<UserId>,
    request: &RequestMeta,
    event: AuditEvent,
) -> AppResult<()> {
    let context = SystemContext { user_id: user, request: request.clone() };
    let mut tx = begin_system(&state.db, &context).await?;
    audit::record_platform(&mut tx, &context, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// After the first factor: a new session id, a new CSRF token, the person in the
/// session, the session indexed under them. Returns where to go next.
pub async fn start(
    state: &AppState,
    session: &Session,
    user: UserId,
    how: FirstFactor,
    request: &RequestMeta,
) -> AppResult<String> {
    let now = state.clock.now();
    let facts = factor_facts(state, user).await?;
    let previous = session::load(session).await?;
    session::cycle(session).await?;
    let idle = if facts.required { state.config.auth.staff_idle } else { state.config.auth.patient_idle };
    let data = SessionData {
        csrf: session::new_csrf_token(),
        user: Some(SignedIn {
            user_id: user,
            authenticated_at: now,
            second_factor_required: facts.required,
            second_factor_enrolled: facts.enrolled || how == FirstFactor::Passkey,
            second_factor_at: (how == FirstFactor::Passkey).then_some(now),
            last_activity: now,
            reauthenticated_at: now,
            idle_minutes: minutes(idle),
            context: None,
            context_label: None,
            consents_accepted: false,
        }),
        return_to: previous.return_to,
        pending_token: previous.pending_token,
        ceremony: None,
    };
    session::store(session, &data, session::expiry_for(&data, now, absolute(state))).await?;
    let id = session::save_now(session).await?;
    sessions::remember(&state.db, user, &id, request).await?;
    let mut event = AuditEvent::new(Action::Login, Outcome::Success).resource("user", user);
    event.details = serde_json::json!({ "method": match how { FirstFactor::Password => "password", FirstFactor::Passkey => "passkey" } });
    audit_platform(state, Some(user), request, event).await?;
    next_step(state, session, request).await
}

/// After a second factor: the session is fully signed in (new id again).
pub async fn complete_second_factor(
    state: &AppState,
    session: &Session,
    method: &'static str,
    request: &RequestMeta,
) -> AppResult<String> {
    let now = state.clock.now();
    let mut data = session::load(session).await?;
    let user = data.user.as_mut().ok_or(AppError::Unauthorized)?;
    user.second_factor_at = Some(now);
    user.second_factor_enrolled = true;
    user.reauthenticated_at = now;
    let user_id = user.user_id;
    let old_id = session.id().map(|id| id.to_string());
    session::cycle(session).await?;
    session::store(session, &data, session::expiry_for(&data, now, absolute(state))).await?;
    let id = session::save_now(session).await?;
    sessions::forget(&state.db, user_id, old_id).await;
    sessions::remember(&state.db, user_id, &id, request).await?;
    let mut event = AuditEvent::new(Action::MfaChallengePassed, Outcome::Success).resource("user", user_id);
    event.details = serde_json::json!({ "method": method });
    audit_platform(state, Some(user_id), request, event).await?;
    next_step(state, session, request).await
}

/// Where a signed-in person goes now: the second factor if owed, the page they wanted,
/// their context (chosen automatically when there is only one, or the one they last
/// used), or the context picker.
pub async fn next_step(state: &AppState, session: &Session, request: &RequestMeta) -> AppResult<String> {
    let mut data = session::load(session).await?;
    let Some(user) = data.user.clone() else { return Ok("/sign-in".into()) };
    if !user.second_factor_satisfied() {
        return Ok(if user.second_factor_enrolled { "/mfa".into() } else { "/mfa/enrol".into() });
    }
    if user.context.is_none() {
        let options = contexts::list(&state.db, user.user_id, request, state.clock.now()).await?;
        let remembered = last_context(state, user.user_id).await?;
        let chosen = match options.as_slice() {
            [only] => Some(only.claim),
            many => remembered.and_then(|key| many.iter().find(|o| o.claim.key() == key)).map(|o| o.claim),
        };
        match chosen {
            Some(claim) => return enter(state, session, claim, request).await,
            None => return Ok("/contexts".into()),
        }
    }
    after_context(state, session, &mut data).await
}

/// With a context entered: consent if owed, else the page they wanted, else home.
async fn after_context(state: &AppState, session: &Session, data: &mut SessionData) -> AppResult<String> {
    if !data.user.as_ref().is_some_and(|u| u.consents_accepted) {
        return Ok("/consent".into());
    }
    match data.return_to.take() {
        Some(path) => {
            let now = state.clock.now();
            session::store(session, data, session::expiry_for(data, now, absolute(state))).await?;
            Ok(path)
        }
        None => Ok("/home".into()),
    }
}

async fn last_context(state: &AppState, user: UserId) -> AppResult<Option<String>> {
    let mut tx =
        begin_system(&state.db, &SystemContext { user_id: Some(user), ..Default::default() }).await?;
    let key = sqlx::query_scalar!("SELECT last_context FROM users WHERE id = $1", user.as_uuid())
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
    tx.commit().await?;
    Ok(key)
}

/// Enters `claim` (after checking it still holds): new session id, the context and its
/// label in the session, remembered for next time; then consent if any is owed.
pub async fn enter(
    state: &AppState,
    session: &Session,
    claim: ContextClaim,
    request: &RequestMeta,
) -> AppResult<String> {
    let now = state.clock.now();
    let mut data = session::load(session).await?;
    let user_id = data.user.as_ref().ok_or(AppError::Unauthorized)?.user_id;
    let option = contexts::list(&state.db, user_id, request, now)
        .await?
        .into_iter()
        .find(|o| o.claim == claim)
        .ok_or(AppError::ContextEnded)?;
    let missing = match claim.organization_id() {
        Some(org) => {
            let context = TenantContext {
                user_id: Some(user_id),
                request: request.clone(),
                ..TenantContext::system(org)
            };
            let mut tx = begin_tenant(&state.db, &context).await?;
            if contexts::resolve(&mut tx, user_id, claim, now).await?.is_none() {
                return Err(AppError::ContextEnded);
            }
            let missing = contexts::missing_consents(&mut tx, user_id, Some(org), now).await?;
            tx.commit().await?;
            missing
        }
        None => {
            let mut tx =
                begin_system(&state.db, &SystemContext { user_id: Some(user_id), request: request.clone() })
                    .await?;
            let missing = contexts::missing_consents(&mut tx, user_id, None, now).await?;
            tx.commit().await?;
            missing
        }
    };
    let policy = clinic_policy(state, claim, user_id).await?;
    // Second factors: a workforce context always needs one, even if sign-in did not; a
    // patient or proxy context needs one where the clinic asks for it.
    let needs_factor = claim.is_workforce() || policy.patients_need_second_factor;
    let user = data.user.as_mut().ok_or(AppError::Unauthorized)?;
    if needs_factor && !user.second_factor_required {
        user.second_factor_required = true;
    }
    user.context = Some(claim);
    user.context_label = Some(match &option.organization {
        Some(org) => format!("{} · {org}", option.role_label),
        None => option.role_label.clone(),
    });
    user.consents_accepted = missing.is_empty();
    user.idle_minutes = policy.idle_minutes;
    let old_id = session.id().map(|id| id.to_string());
    session::cycle(session).await?;
    session::store(session, &data, session::expiry_for(&data, now, absolute(state))).await?;
    let id = session::save_now(session).await?;
    sessions::forget(&state.db, user_id, old_id).await;
    sessions::remember(&state.db, user_id, &id, request).await?;

    let mut tx =
        begin_system(&state.db, &SystemContext { user_id: Some(user_id), request: request.clone() }).await?;
    sqlx::query!("UPDATE users SET last_context = $2 WHERE id = $1", user_id.as_uuid(), claim.key())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    after_context(state, session, &mut data).await
}

/// What a clinic decides about sessions in its contexts.
struct ClinicPolicy {
    /// 15 minutes for the workforce, 30 for patients and proxies, or shorter where the
    /// clinic says so (`settings.session_idle_minutes`).
    idle_minutes: u32,
    /// `settings.require_patient_mfa`: patients and proxies need a second factor too.
    patients_need_second_factor: bool,
}

async fn clinic_policy(state: &AppState, claim: ContextClaim, user: UserId) -> AppResult<ClinicPolicy> {
    let default = if claim.is_workforce() {
        minutes(state.config.auth.staff_idle)
    } else {
        minutes(state.config.auth.patient_idle)
    };
    let Some(org) = claim.organization_id() else {
        return Ok(ClinicPolicy { idle_minutes: default, patients_need_second_factor: false });
    };
    let mut tx =
        begin_system(&state.db, &SystemContext { user_id: Some(user), ..Default::default() }).await?;
    let row = sqlx::query!(
        r#"SELECT (settings ->> 'session_idle_minutes')::int AS "minutes",
                  coalesce((settings ->> 'require_patient_mfa')::boolean, false) AS "patient_mfa!"
             FROM organizations WHERE id = $1"#,
        org.as_uuid()
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let configured = row.as_ref().and_then(|r| r.minutes);
    Ok(ClinicPolicy {
        idle_minutes: match configured {
            Some(minutes) if minutes > 0 => default.min(minutes as u32),
            _ => default,
        },
        patients_need_second_factor: row.is_some_and(|r| r.patient_mfa),
    })
}

/// Signs out: the server record is deleted (the cookie with it), the index entry
/// forgotten, the event audited.
pub async fn sign_out(state: &AppState, session: &Session, request: &RequestMeta) -> AppResult<()> {
    let data = session::load(session).await?;
    let id = session.id().map(|id| id.to_string());
    session::end(session).await?;
    if let Some(user) = data.user {
        sessions::forget(&state.db, user.user_id, id).await;
        audit_platform(
            state,
            Some(user.user_id),
            request,
            AuditEvent::new(Action::Logout, Outcome::Success).resource("user", user.user_id),
        )
        .await?;
    }
    Ok(())
}

/// Whether the person proved who they are recently enough for a sensitive change.
pub fn recently_reauthenticated(reauthenticated_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - reauthenticated_at <= STEP_UP_WINDOW
}

/// Marks a fresh proof of identity (password or second factor) for step-up.
pub async fn mark_reauthenticated(state: &AppState, session: &Session) -> AppResult<()> {
    let now = state.clock.now();
    let mut data = session::load(session).await?;
    if let Some(user) = data.user.as_mut() {
        user.reauthenticated_at = now;
    }
    session::store(session, &data, session::expiry_for(&data, now, absolute(state))).await
}

/// Ends every session of `user` (or all but the current one), after a credential change.
pub async fn end_other_sessions(state: &AppState, user: UserId, keep: Option<&Session>) -> AppResult<u64> {
    let keep_id = keep.and_then(|s| s.id()).map(|id| id.to_string());
    Ok(sessions::end_all(&state.db, user, keep_id.as_deref()).await?)
}
