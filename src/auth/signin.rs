//! The steps of signing in, shared by every way in (password, passkey, invitation,
//! reset): start a session after the first factor, complete the second, enter a context,
//! sign out. Each privilege change cycles the session id and is audited.
//!
//! Every step works in the caller's system transaction (`conn`), so the session index,
//! the audit event and any other change of a step commit together or not at all. The
//! session record itself is written by the session store as each step changes it.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;
use tower_sessions::Session;

use crate::audit::{self, Action, AuditEvent, Outcome};
use crate::auth::contexts;
use crate::auth::policy::Module;
use crate::auth::session::{self, ContextClaim, SessionData, SignedIn};
use crate::auth::{session_store, sessions};
use crate::config::AuthConfig;
use crate::db::ids::UserId;
use crate::db::tenant::{RequestMeta, SystemContext, TenantContext, scoped};
use crate::error::{AppError, AppResult};

/// Step-up: sensitive changes need a proof of identity at most this old.
pub(crate) const STEP_UP_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// How the first factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstFactor {
    Password,
    /// A passkey with user verification: two factors at once.
    Passkey,
}

/// The pages of the sign-in flow, where a step sends a person next. Each is served by a
/// feature, which declares it next to its routes; the composition root gathers them, so
/// the flow (and the rest of the plumbing) names no feature's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowPage {
    SignIn,
    SignOut,
    /// The second-factor challenge.
    SecondFactor,
    /// Setting up a first second factor.
    EnrolSecondFactor,
    /// The context picker.
    ChooseContext,
    /// The documents a context needs agreed first.
    Consent,
    /// The step-up password check before a sensitive change.
    Reauthenticate,
    /// Where a person lands once in a context.
    Home,
    /// Where the banner of an emergency access (break-glass) posts to end it.
    EndEmergencyAccess,
    /// Where the banner of an impersonation posts to end it.
    EndImpersonation,
}

impl FlowPage {
    pub const ALL: [FlowPage; 10] = [
        FlowPage::SignIn,
        FlowPage::SignOut,
        FlowPage::SecondFactor,
        FlowPage::EnrolSecondFactor,
        FlowPage::ChooseContext,
        FlowPage::Consent,
        FlowPage::Reauthenticate,
        FlowPage::Home,
        FlowPage::EndEmergencyAccess,
        FlowPage::EndImpersonation,
    ];
}

/// Every [`FlowPage`]'s path.
#[derive(Debug, Clone)]
pub struct FlowPages([&'static str; FlowPage::ALL.len()]);

impl FlowPages {
    /// From the features' declarations: each page declared exactly once.
    pub fn from_declared(declared: &[(FlowPage, &'static str)]) -> Result<Self, String> {
        let mut paths = [""; FlowPage::ALL.len()];
        for page in FlowPage::ALL {
            let mut found = declared.iter().filter(|(p, _)| *p == page).map(|(_, path)| *path);
            match (found.next(), found.next()) {
                (Some(path), None) => paths[page as usize] = path,
                (None, _) => return Err(format!("no feature declares the sign-in flow's {page:?} page")),
                (Some(_), Some(_)) => {
                    return Err(format!("the sign-in flow's {page:?} page is declared twice"));
                }
            }
        }
        Ok(Self(paths))
    }

    pub fn path(&self, page: FlowPage) -> &'static str {
        self.0[page as usize]
    }

    /// Where a person who must still pass their second factor goes.
    pub fn second_factor(&self, enrolled: bool) -> &'static str {
        self.path(if enrolled { FlowPage::SecondFactor } else { FlowPage::EnrolSecondFactor })
    }
}

/// What every step needs besides the transaction: the browser's session, the session
/// rules, the flow's pages, where the request came from, and the request's time.
pub struct Step<'a> {
    pub session: &'a Session,
    pub rules: &'a AuthConfig,
    pub pages: &'a FlowPages,
    pub request: RequestMeta,
    pub now: DateTime<Utc>,
    /// Set once this step wrote a new session id (see [`settle`]).
    pub rotated: AtomicBool,
}

impl<'a> Step<'a> {
    pub fn new(
        session: &'a Session,
        rules: &'a AuthConfig,
        pages: &'a FlowPages,
        request: RequestMeta,
        now: DateTime<Utc>,
    ) -> Self {
        Self { session, rules, pages, request, now, rotated: AtomicBool::new(false) }
    }

    /// Writes `data` to the session with the expiry it should carry now.
    pub async fn store(&self, data: &SessionData) -> AppResult<()> {
        session::store(self.session, data, session::expiry_for(data, self.now, self.rules.absolute_limit()))
            .await
    }

    async fn audit(
        &self,
        conn: &mut PgConnection,
        user: Option<UserId>,
        event: &AuditEvent,
    ) -> AppResult<()> {
        let context = SystemContext { user_id: user, request: self.request.clone() };
        audit::record_platform(conn, &context, event).await?;
        Ok(())
    }
}

fn minutes(duration: std::time::Duration) -> u32 {
    u32::try_from(duration.as_secs() / 60).unwrap_or(15)
}

/// What sign-in needs to know about a person's factors and roles.
struct FactorFacts {
    required: bool,
    enrolled: bool,
}

async fn factor_facts(conn: &mut PgConnection, user: UserId) -> AppResult<FactorFacts> {
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
    .fetch_one(conn)
    .await?;
    Ok(FactorFacts { required: row.required, enrolled: row.enrolled })
}

/// Cycles the session id and stores `data` under the new id, indexed under `user`
/// (the old id stops working at once).
///
/// A signed-in session that was ended meanwhile (sign-out elsewhere, a password change,
/// a disabled account) is not replaced: the new id would be a session nobody ended.
async fn rotate(conn: &mut PgConnection, step: &Step<'_>, user: UserId, data: &SessionData) -> AppResult<()> {
    sessions::serialize(conn, user).await?;
    let old_id = step.session.id().map(|id| id.to_string());
    if let Some(old) = &old_id
        && session::load(step.session).await?.user.is_some()
        && !sessions::still_open(conn, old).await?
    {
        session::end(step.session).await?;
        return Err(AppError::Unauthorized);
    }
    step.rotated.store(true, Ordering::Relaxed);
    // The new record is written in this transaction (with its index entry and the step's
    // audit event), not through the pool: the session exists only if the step commits.
    let (saved, writes) = session_store::deferring(async {
        session::cycle(step.session).await?;
        step.store(data).await?;
        session::save_now(step.session).await
    })
    .await;
    let id = saved?;
    session_store::apply(conn, writes).await?;
    sessions::forget(conn, old_id).await?;
    sessions::remember(conn, user, &id, &step.request).await?;
    Ok(())
}

/// Settles a step with its transaction: commits when the step succeeded. The session
/// record is written as soon as a step rotates it (its id goes into the index, in the
/// transaction), so when the step or its commit fails afterwards, the session is ended
/// too: the browser never keeps a session whose index entry and audit event were rolled
/// back, which "sign out everywhere", a reset or disabling the account could not end.
pub async fn settle<C>(step: &Step<'_>, outcome: AppResult<String>, commit: C) -> AppResult<String>
where
    C: Future<Output = AppResult<()>>,
{
    let result = match outcome {
        Ok(next) => commit.await.map(|()| next),
        Err(error) => Err(error),
    };
    if result.is_err() && step.rotated.load(Ordering::Relaxed) {
        session::end(step.session).await?;
    }
    result
}

/// After the first factor: a new session id, a new CSRF token, the person in the
/// session, the session indexed under them. Returns where to go next.
pub async fn start(
    conn: &mut PgConnection,
    step: &Step<'_>,
    user: UserId,
    how: FirstFactor,
) -> AppResult<String> {
    let now = step.now;
    let facts = factor_facts(conn, user).await?;
    let previous = session::load(step.session).await?;
    let idle = if facts.required { step.rules.staff_idle } else { step.rules.patient_idle };
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
            clinic_timezone: None,
            disabled_modules: Vec::new(),
            impersonating: None,
        }),
        return_to: previous.return_to,
        pending_token: previous.pending_token,
        ceremony: None,
    };
    rotate(conn, step, user, &data).await?;
    let mut event = AuditEvent::new(Action::Login, Outcome::Success).resource("user", user);
    event.details = serde_json::json!({ "method": match how { FirstFactor::Password => "password", FirstFactor::Passkey => "passkey" } });
    step.audit(conn, Some(user), &event).await?;
    next_step(conn, step).await
}

/// After a second factor: the session is fully signed in (new id again).
pub(crate) async fn complete_second_factor(
    conn: &mut PgConnection,
    step: &Step<'_>,
    method: &'static str,
) -> AppResult<String> {
    let mut data = session::load(step.session).await?;
    let user = data.user.as_mut().ok_or(AppError::Unauthorized)?;
    user.second_factor_at = Some(step.now);
    user.second_factor_enrolled = true;
    user.reauthenticated_at = step.now;
    // Passing the factor is the person acting (it may come a while after the password).
    user.last_activity = step.now;
    let user_id = user.user_id;
    rotate(conn, step, user_id, &data).await?;
    let mut event = AuditEvent::new(Action::MfaChallengePassed, Outcome::Success).resource("user", user_id);
    event.details = serde_json::json!({ "method": method });
    step.audit(conn, Some(user_id), &event).await?;
    next_step(conn, step).await
}

/// Where a signed-in person goes now: the second factor if owed, the page they wanted,
/// their context (chosen automatically when there is only one, or the one they last
/// used), or the context picker.
pub(crate) async fn next_step(conn: &mut PgConnection, step: &Step<'_>) -> AppResult<String> {
    let mut data = session::load(step.session).await?;
    let Some(user) = data.user.clone() else { return Ok(step.pages.path(FlowPage::SignIn).into()) };
    if !user.second_factor_satisfied() {
        return Ok(step.pages.second_factor(user.second_factor_enrolled).into());
    }
    if user.context.is_none() {
        let options = contexts::offered(conn, user.user_id, step.now).await?;
        let remembered =
            sqlx::query_scalar!("SELECT last_context FROM users WHERE id = $1", user.user_id.as_uuid())
                .fetch_optional(&mut *conn)
                .await?
                .flatten();
        let chosen = match options.as_slice() {
            [only] => Some(only.claim),
            many => remembered.and_then(|key| many.iter().find(|o| o.claim.key() == key)).map(|o| o.claim),
        };
        match chosen {
            Some(claim) => return enter(conn, step, claim).await,
            None => return Ok(step.pages.path(FlowPage::ChooseContext).into()),
        }
    }
    after_context(step, &mut data).await
}

/// With a context entered: consent if owed, else the page they wanted, else home.
async fn after_context(step: &Step<'_>, data: &mut SessionData) -> AppResult<String> {
    if !data.user.as_ref().is_some_and(|u| u.consents_accepted) {
        return Ok(step.pages.path(FlowPage::Consent).into());
    }
    match data.return_to.take() {
        Some(path) => {
            step.store(data).await?;
            Ok(path)
        }
        None => Ok(step.pages.path(FlowPage::Home).into()),
    }
}

/// Enters `claim` (after checking it still holds): new session id, the context and its
/// label in the session, remembered for next time; then consent if any is owed.
pub(crate) async fn enter(
    conn: &mut PgConnection,
    step: &Step<'_>,
    claim: ContextClaim,
) -> AppResult<String> {
    let now = step.now;
    let mut data = session::load(step.session).await?;
    let user_id = data.user.as_ref().ok_or(AppError::Unauthorized)?.user_id;
    let option = contexts::offered(conn, user_id, now)
        .await?
        .into_iter()
        .find(|o| o.claim == claim)
        .ok_or(AppError::ContextEnded)?;
    let missing = match claim.organization_id() {
        Some(org) => {
            let context = TenantContext {
                user_id: Some(user_id),
                request: step.request.clone(),
                ..TenantContext::system(org)
            };
            let found = scoped(conn, &context, async |tx| {
                match contexts::resolve(&mut *tx, user_id, claim, now).await? {
                    Some(_) => Ok(Some(contexts::missing_consents(&mut *tx, user_id, claim, now).await?)),
                    None => Ok(None),
                }
            })
            .await?;
            found.ok_or(AppError::ContextEnded)?
        }
        None => contexts::missing_consents(conn, user_id, claim, now).await?,
    };
    let policy = clinic_policy(conn, step.rules, claim).await?;
    // Second factors: a workforce context always needs one, even if sign-in did not; a
    // patient or proxy context needs one where the clinic asks for it.
    let needs_factor = claim.is_workforce() || policy.patients_need_second_factor;
    let user = data.user.as_mut().ok_or(AppError::Unauthorized)?;
    if needs_factor && !user.second_factor_required {
        user.second_factor_required = true;
    }
    user.last_activity = now;
    user.impersonating = None;
    user.context = Some(claim);
    user.context_label = Some(match &option.organization {
        Some(org) => format!("{} · {org}", option.role_label),
        None => option.role_label.clone(),
    });
    user.consents_accepted = missing.is_empty();
    user.idle_minutes = policy.idle_minutes;
    user.clinic_timezone = policy.timezone;
    user.disabled_modules = policy.disabled_modules;
    rotate(conn, step, user_id, &data).await?;
    sqlx::query!("UPDATE users SET last_context = $2 WHERE id = $1", user_id.as_uuid(), claim.key())
        .execute(&mut *conn)
        .await?;
    after_context(step, &mut data).await
}

/// Enters a context just opened for this person rather than one of their own (a super
/// admin's break-glass, an administrator acting as a member): a new session id and its
/// label, checked on every request by `contexts::resolve` like any context, with no
/// consent step (the clinic's documents are not theirs to accept) and never remembered as
/// their last context. `impersonating` is set for an impersonation, and cleared otherwise.
pub(crate) async fn enter_granted(
    conn: &mut PgConnection,
    step: &Step<'_>,
    claim: ContextClaim,
    label: String,
    impersonating: Option<session::Impersonating>,
) -> AppResult<String> {
    let mut data = session::load(step.session).await?;
    let user_id = data.user.as_ref().ok_or(AppError::Unauthorized)?.user_id;
    let policy = clinic_policy(conn, step.rules, claim).await?;
    let user = data.user.as_mut().ok_or(AppError::Unauthorized)?;
    user.second_factor_required = true;
    user.last_activity = step.now;
    user.context = Some(claim);
    user.context_label = Some(label);
    user.consents_accepted = true;
    user.idle_minutes = policy.idle_minutes;
    user.clinic_timezone = policy.timezone;
    user.disabled_modules = policy.disabled_modules;
    user.impersonating = impersonating;
    data.return_to = None;
    rotate(conn, step, user_id, &data).await?;
    Ok(step.pages.path(FlowPage::Home).into())
}

/// Ends an impersonation in the session: the administrator's own context and label come
/// back, with a new session id.
pub(crate) async fn leave_impersonation(conn: &mut PgConnection, step: &Step<'_>) -> AppResult<String> {
    let mut data = session::load(step.session).await?;
    let user_id = data.user.as_ref().ok_or(AppError::Unauthorized)?.user_id;
    let user = data.user.as_mut().ok_or(AppError::Unauthorized)?;
    let Some(impersonating) = user.impersonating.take() else { return Err(AppError::NotFound) };
    let policy = clinic_policy(conn, step.rules, impersonating.own_context).await?;
    user.context = Some(impersonating.own_context);
    user.context_label = impersonating.own_label;
    user.idle_minutes = policy.idle_minutes;
    user.last_activity = step.now;
    data.return_to = None;
    rotate(conn, step, user_id, &data).await?;
    Ok(step.pages.path(FlowPage::Home).into())
}

/// What a clinic decides about sessions in its contexts.
struct ClinicPolicy {
    /// 15 minutes for the workforce, 30 for patients and proxies, or shorter where the
    /// clinic says so (`settings.session_idle_minutes`).
    idle_minutes: u32,
    /// `settings.require_patient_mfa`: patients and proxies need a second factor too.
    patients_need_second_factor: bool,
    /// The clinic's timezone (none outside a clinic).
    timezone: Option<String>,
    /// The parts of the product the clinic switched off.
    disabled_modules: Vec<Module>,
}

async fn clinic_policy(
    conn: &mut PgConnection,
    rules: &AuthConfig,
    claim: ContextClaim,
) -> AppResult<ClinicPolicy> {
    let default = if claim.is_workforce() { minutes(rules.staff_idle) } else { minutes(rules.patient_idle) };
    let Some(org) = claim.organization_id() else {
        return Ok(ClinicPolicy {
            idle_minutes: default,
            patients_need_second_factor: false,
            timezone: None,
            disabled_modules: Vec::new(),
        });
    };
    let row = sqlx::query!(
        r#"SELECT (settings ->> 'session_idle_minutes')::int AS "minutes",
                  coalesce((settings ->> 'require_patient_mfa')::boolean, false) AS "patient_mfa!", timezone,
                  disabled_modules
             FROM organizations WHERE id = $1"#,
        org.as_uuid()
    )
    .fetch_optional(conn)
    .await?;
    let configured = row.as_ref().and_then(|r| r.minutes);
    Ok(ClinicPolicy {
        idle_minutes: idle_minutes(default, configured),
        patients_need_second_factor: row.as_ref().is_some_and(|r| r.patient_mfa),
        disabled_modules: row.as_ref().map(|r| Module::parse_all(&r.disabled_modules)).unwrap_or_default(),
        timezone: row.map(|r| r.timezone),
    })
}

/// The idle limit of a context: the clinic may shorten the default, never lengthen it.
pub fn idle_minutes(default: u32, clinic: Option<i32>) -> u32 {
    match clinic {
        Some(minutes) if minutes > 0 => default.min(minutes.unsigned_abs()),
        _ => default,
    }
}

/// Signs out: the server record is deleted (the cookie with it), the index entry
/// forgotten, the event audited.
pub(crate) async fn sign_out(conn: &mut PgConnection, step: &Step<'_>) -> AppResult<()> {
    let data = session::load(step.session).await?;
    let id = step.session.id().map(|id| id.to_string());
    session::end(step.session).await?;
    if let Some(user) = data.user {
        sessions::forget(conn, id).await?;
        let event = AuditEvent::new(Action::Logout, Outcome::Success).resource("user", user.user_id);
        step.audit(conn, Some(user.user_id), &event).await?;
    }
    Ok(())
}

/// Whether the person proved who they are recently enough for a sensitive change.
pub(crate) fn recently_reauthenticated(reauthenticated_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - reauthenticated_at <= STEP_UP_WINDOW
}

/// Marks a fresh proof of identity (password or second factor) for step-up.
pub(crate) async fn mark_reauthenticated(step: &Step<'_>) -> AppResult<()> {
    let mut data = session::load(step.session).await?;
    if let Some(user) = data.user.as_mut() {
        user.reauthenticated_at = step.now;
    }
    step.store(&data).await
}

/// Ends every session of `user` but the current one, after a credential change.
pub(crate) async fn end_other_sessions(
    conn: &mut PgConnection,
    user: UserId,
    keep: &Session,
) -> AppResult<u64> {
    let keep_id = keep.id().map(|id| id.to_string());
    Ok(sessions::end_all(conn, user, keep_id.as_deref()).await?)
}
