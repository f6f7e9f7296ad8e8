//! What a session holds, and the typed ways to change it.
//!
//! One value under one key: ids, timestamps and the CSRF token — never patient data,
//! never a secret factor. Every privilege change (sign-in, second factor, context
//! switch, sign-out) goes through a method here that cycles the session id, so a session
//! id seen before a privilege change is worthless after it.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use tower_sessions::session::Expiry;

use crate::auth::policy::{PlatformRole, StaffRole};
use crate::db::ids::{OrganizationId, PatientId, UserId};
use crate::error::AppError;

use super::session_store::DATA_KEY as KEY;

/// How long an anonymous session (a CSRF token for the sign-in form) lives.
const ANONYMOUS_LIFETIME: TimeDelta = TimeDelta::hours(2);

/// Activity is written at most this often, so an ordinary request writes nothing.
pub(crate) const ACTIVITY_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

/// How old the recorded activity may grow before a request records it again: at most a
/// minute, and at most a quarter of the idle limit, so with a one-minute limit a person
/// acting every half minute is never taken for idle (the recorded time lags the real one
/// by at most the granularity).
pub(crate) fn activity_granularity(user: &SignedIn) -> TimeDelta {
    ACTIVITY_GRANULARITY.min(user.idle_limit() / 4)
}

/// A context a person acts in: a clinic and a role there, or a platform role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ContextClaim {
    Staff {
        organization_id: OrganizationId,
        role: StaffRole,
    },
    Patient {
        organization_id: OrganizationId,
        patient_id: PatientId,
    },
    Proxy {
        organization_id: OrganizationId,
        patient_id: PatientId,
    },
    Platform {
        role: PlatformRole,
    },
    /// A super admin's emergency access to one patient of one clinic (break-glass): held
    /// only while their grant is live, never offered in the picker or remembered.
    BreakGlass {
        organization_id: OrganizationId,
        patient_id: PatientId,
    },
}

impl ContextClaim {
    pub fn organization_id(&self) -> Option<OrganizationId> {
        match *self {
            Self::Staff { organization_id, .. }
            | Self::Patient { organization_id, .. }
            | Self::Proxy { organization_id, .. }
            | Self::BreakGlass { organization_id, .. } => Some(organization_id),
            Self::Platform { .. } => None,
        }
    }

    /// The patient a patient's or a proxy's context is about.
    pub fn patient_id(&self) -> Option<PatientId> {
        match *self {
            Self::Patient { patient_id, .. }
            | Self::Proxy { patient_id, .. }
            | Self::BreakGlass { patient_id, .. } => Some(patient_id),
            Self::Staff { .. } | Self::Platform { .. } => None,
        }
    }

    /// Staff and platform contexts always require a second factor.
    pub(crate) fn is_workforce(&self) -> bool {
        matches!(self, Self::Staff { .. } | Self::Platform { .. } | Self::BreakGlass { .. })
    }

    /// A stable text form, for remembering the last context and for form values.
    pub fn key(&self) -> String {
        match self {
            Self::Staff { organization_id, role } => format!("staff:{organization_id}:{}", role.as_str()),
            Self::Patient { organization_id, patient_id } => {
                format!("patient:{organization_id}:{patient_id}")
            }
            Self::Proxy { organization_id, patient_id } => format!("proxy:{organization_id}:{patient_id}"),
            Self::Platform { role } => format!("platform:{}", role.as_str()),
            // Not parsed back: a break-glass context is entered only by asking for it.
            Self::BreakGlass { organization_id, patient_id } => {
                format!("break_glass:{organization_id}:{patient_id}")
            }
        }
    }

    pub(crate) fn parse_key(key: &str) -> Option<Self> {
        let mut parts = key.split(':');
        let claim = match (parts.next()?, parts.next(), parts.next()) {
            ("staff", Some(org), Some(role)) => {
                Self::Staff { organization_id: org.parse().ok()?, role: StaffRole::parse(role)? }
            }
            ("patient", Some(org), Some(patient)) => {
                Self::Patient { organization_id: org.parse().ok()?, patient_id: patient.parse().ok()? }
            }
            ("proxy", Some(org), Some(patient)) => {
                Self::Proxy { organization_id: org.parse().ok()?, patient_id: patient.parse().ok()? }
            }
            ("platform", Some(role), None) => Self::Platform { role: PlatformRole::parse(role)? },
            _ => return None,
        };
        parts.next().is_none().then_some(claim)
    }
}

/// A person signed in (perhaps still owing the second factor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub user_id: UserId,
    /// When the first factor (password, or a passkey) was verified; the absolute timeout
    /// counts from here.
    pub authenticated_at: DateTime<Utc>,
    /// Whether this person must pass a second factor (workforce roles, or a clinic's rule).
    pub second_factor_required: bool,
    /// Whether they have one enrolled (if required and not, enrolment comes first).
    pub second_factor_enrolled: bool,
    /// When the second factor was verified (or the passkey that counted as both).
    pub second_factor_at: Option<DateTime<Utc>>,
    /// The last user action (background polling does not count).
    pub last_activity: DateTime<Utc>,
    /// The last time the person proved who they are (sign-in or re-authentication), for
    /// step-up before sensitive changes.
    pub reauthenticated_at: DateTime<Utc>,
    pub idle_minutes: u32,
    pub context: Option<ContextClaim>,
    /// How the context is shown in the page header ("Provider · Riverside Family
    /// Clinic"); never a patient's name.
    pub context_label: Option<String>,
    /// The current context's required consents were accepted.
    pub consents_accepted: bool,
    /// The entered clinic's timezone, for the pages outside the clinic's transaction (the
    /// account page) that show times (sessions written before it existed have none).
    #[serde(default)]
    pub clinic_timezone: Option<String>,
    /// The parts of the product the entered clinic switched off, as last read: the header
    /// leaves them out. Their routes are refused by the tenant transaction, which reads
    /// them as they are now and updates this copy.
    #[serde(default)]
    pub disabled_modules: Vec<crate::auth::policy::Module>,
    /// While an administrator acts as another member of the clinic (support).
    #[serde(default)]
    pub impersonating: Option<Impersonating>,
}

/// An administrator acting as another member: whose view and permissions apply, and the
/// administrator's own context to go back to. Their own `user_id` stays theirs: every
/// event records both people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impersonating {
    /// Its record (`impersonations.id`).
    pub id: uuid::Uuid,
    /// The member acted as, and how the banner names them.
    pub target: UserId,
    pub target_label: String,
    /// The administrator's own context and header label.
    pub own_context: ContextClaim,
    pub own_label: Option<String>,
}

impl SignedIn {
    pub fn second_factor_satisfied(&self) -> bool {
        !self.second_factor_required || self.second_factor_at.is_some()
    }

    pub(crate) fn idle_limit(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.idle_minutes))
    }
}

/// Everything stored in a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    /// The per-session CSRF token (43 characters of base64url: 256 random bits).
    pub csrf: String,
    pub user: Option<SignedIn>,
    /// Where to go after signing in: a validated relative path.
    pub return_to: Option<String>,
    /// A token from an e-mail link, taken out of the address bar: (purpose, its digest
    /// as `auth::tokens::parked` makes it — never the token itself).
    pub pending_token: Option<(String, String)>,
    /// The WebAuthn ceremony this browser started (its state is in the database).
    pub ceremony: Option<uuid::Uuid>,
}

pub(crate) fn new_csrf_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The session's CSRF token as one response shows it: a fresh random mask, then the token
/// XORed with it (base64). Every page carries different bytes for the same token, so a
/// compressed page that also reflects a visitor's input (`return_to`) cannot be used to
/// guess the token byte by byte from the compressed length.
pub(crate) fn mask_csrf(token: &str) -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = token.as_bytes();
    let mut masked = vec![0u8; token.len() * 2];
    let (mask, body) = masked.split_at_mut(token.len());
    rand::rng().fill_bytes(mask);
    for ((out, byte), m) in body.iter_mut().zip(token).zip(mask.iter()) {
        *out = byte ^ m;
    }
    engine.encode(masked)
}

/// The token a masked one carries (see [`mask_csrf`]), or `None` when it is no such thing.
pub(crate) fn unmask_csrf(presented: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(presented).ok()?;
    if bytes.is_empty() || bytes.len() % 2 != 0 {
        return None;
    }
    let (mask, body) = bytes.split_at(bytes.len() / 2);
    Some(body.iter().zip(mask).map(|(b, m)| b ^ m).collect())
}

fn expiry_at(at: DateTime<Utc>) -> Expiry {
    let at =
        time::OffsetDateTime::from_unix_timestamp(at.timestamp()).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Expiry::AtDateTime(at)
}

#[allow(clippy::needless_pass_by_value)] // used as a map_err function
fn store_error(error: tower_sessions::session::Error) -> AppError {
    use tower_sessions::session::Error;
    use tower_sessions::session_store::Error as StoreError;
    if matches!(&error, Error::Store(StoreError::Backend(text)) if text == super::session_store::UNAVAILABLE)
    {
        return AppError::Unavailable("session_store");
    }
    tracing::error!(error.kind = "session", error.detail = %error, "session store failed");
    AppError::Internal
}

/// Reads the session's data (one query, at most once per request: tower-sessions keeps
/// the loaded record).
pub async fn load(session: &Session) -> Result<SessionData, AppError> {
    Ok(session.get::<SessionData>(KEY).await.map_err(store_error)?.unwrap_or_default())
}

/// The standing of the session's person as read with the session (no query of its own;
/// see `session_store::Account`). A session that signs no one in has the default.
pub async fn account(session: &Session) -> Result<super::session_store::Account, AppError> {
    Ok(session
        .get::<super::session_store::Account>(super::session_store::ACCOUNT_KEY)
        .await
        .map_err(store_error)?
        .unwrap_or_default())
}

/// Writes the session's data, with its server-side expiry.
pub async fn store(session: &Session, data: &SessionData, expires_at: DateTime<Utc>) -> Result<(), AppError> {
    session.set_expiry(Some(expiry_at(expires_at)));
    session.insert(KEY, data).await.map_err(store_error)
}

/// The expiry a session with `data` should carry at `now`.
pub(crate) fn expiry_for(data: &SessionData, now: DateTime<Utc>, absolute: TimeDelta) -> DateTime<Utc> {
    match &data.user {
        Some(user) => (user.last_activity + user.idle_limit()).min(user.authenticated_at + absolute),
        None => now + ANONYMOUS_LIFETIME,
    }
}

/// The CSRF token, creating the (anonymous) session that holds it if there is none yet.
pub(crate) async fn ensure_csrf(
    session: &Session,
    now: DateTime<Utc>,
    absolute: TimeDelta,
) -> Result<String, AppError> {
    let mut data = load(session).await?;
    if data.csrf.is_empty() {
        data.csrf = new_csrf_token();
        store(session, &data, expiry_for(&data, now, absolute)).await?;
    }
    Ok(data.csrf)
}

/// Moves a one-time token from an e-mail link into the session, out of the address bar
/// (and so out of history and any Referer), with the CSRF token the form after it needs.
pub(crate) async fn park_token(
    session: &Session,
    purpose: &str,
    token: String,
    now: DateTime<Utc>,
    absolute: TimeDelta,
) -> Result<(), AppError> {
    let mut data = load(session).await?;
    data.pending_token = Some((purpose.to_owned(), crate::auth::tokens::parked(&token)));
    if data.csrf.is_empty() {
        data.csrf = new_csrf_token();
    }
    store(session, &data, expiry_for(&data, now, absolute)).await
}

/// The token parked for `purpose` (its digest), if that is what the session holds.
pub(crate) fn parked_token<'a>(data: &'a SessionData, purpose: &str) -> Option<&'a str> {
    data.pending_token.as_ref().filter(|(p, _)| p == purpose).map(|(_, token)| token.as_str())
}

/// Replaces the session id (the old id stops working at once), keeping the data.
pub(crate) async fn cycle(session: &Session) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_error)
}

/// Writes now, so the (new) session id is known to the caller.
pub(crate) async fn save_now(session: &Session) -> Result<String, AppError> {
    session.save().await.map_err(store_error)?;
    session.id().map(|id| id.to_string()).ok_or(AppError::Internal)
}

/// Ends the session: the record is deleted and the cookie cleared.
pub async fn end(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(store_error)
}

/// Accepts only a relative path on this site as a place to return to (no scheme, no
/// `//host`, no backslash tricks, no control characters).
pub(crate) fn safe_return_path(candidate: &str) -> Option<String> {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && !candidate.contains(|c: char| c == '\\' || c.is_control())
        && candidate.len() <= 512;
    ok.then(|| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_relative_paths_on_this_site_are_returned_to() {
        for good in ["/", "/patients/01J9Z3K4M5N6P7Q8R9S0T1V2WX", "/account?tab=sessions"] {
            assert_eq!(safe_return_path(good).as_deref(), Some(good));
        }
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/ok\r\nSet-Cookie: x",
            "",
        ] {
            assert_eq!(safe_return_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn context_keys_round_trip_and_reject_garbage() {
        let claims = [
            ContextClaim::Staff { organization_id: OrganizationId::new(), role: StaffRole::Provider },
            ContextClaim::Patient { organization_id: OrganizationId::new(), patient_id: PatientId::new() },
            ContextClaim::Proxy { organization_id: OrganizationId::new(), patient_id: PatientId::new() },
            ContextClaim::Platform { role: PlatformRole::Auditor },
        ];
        for claim in claims {
            assert_eq!(ContextClaim::parse_key(&claim.key()), Some(claim));
        }
        for bad in [
            "",
            "staff",
            "staff:x:provider",
            "platform:root",
            "staff:01J9Z3K4M5N6P7Q8R9S0T1V2WX:provider:extra",
        ] {
            assert_eq!(ContextClaim::parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_masked_token_differs_every_time_and_unmasks_to_the_token() {
        let token = new_csrf_token();
        let (a, b) = (mask_csrf(&token), mask_csrf(&token));
        assert_ne!(a, b);
        assert!(!a.contains(&token));
        assert_eq!(unmask_csrf(&a).as_deref(), Some(token.as_bytes()));
        assert_eq!(unmask_csrf(&b).as_deref(), Some(token.as_bytes()));
        assert_ne!(
            unmask_csrf(&token).as_deref(),
            Some(token.as_bytes()),
            "the bare token is not a masked one"
        );
        assert_eq!(unmask_csrf("not base64!"), None);
    }

    #[test]
    fn csrf_tokens_are_long_and_unique() {
        let tokens: std::collections::HashSet<String> = (0..1000).map(|_| new_csrf_token()).collect();
        assert_eq!(tokens.len(), 1000);
        assert!(tokens.iter().all(|t| t.len() == 43));
    }

    proptest::proptest! {
        /// WEB-09 as a property: whatever the string, a path that is accepted resolves to
        /// this site when a browser follows it.
        #[test]
        fn an_accepted_return_path_never_leaves_the_site(candidate in "\\PC{0,40}|/[/\\\\a-z.:@%?#]{0,20}") {
            if let Some(path) = safe_return_path(&candidate) {
                let base = url::Url::parse("https://clinic.example/sign-in").expect("base");
                let target = base.join(&path).expect("a relative path joins");
                proptest::prop_assert_eq!(target.host_str(), Some("clinic.example"), "{:?}", candidate);
                proptest::prop_assert_eq!(target.scheme(), "https");
            }
        }
    }
}
