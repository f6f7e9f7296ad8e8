//! The account page itself, and ending the other sessions from it.

use axum::Form;
use axum::extract::{Query, State};
use serde_json::json;
use tower_sessions::Session;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;

use super::super::repo;
use super::super::views::{PasskeyRow, SecurityPage, SessionRow};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::session;
use crate::auth::{passkeys, password_policy, people, recovery, sessions, signin, totp};
use crate::db::ids::UserId;
use crate::web::authenticate::Authenticated;
use crate::web::{AppResult, AppState, Page, SteppedUp, SystemTx};

/// What the account page and its checks need to know about a person's factors.
pub(super) struct Facts {
    pub(super) email: String,
    pub(super) has_totp: bool,
    recovery_left: i64,
    passkeys: Vec<passkeys::StoredPasskey>,
    pub(super) usable_passkeys: i64,
    pub(super) workforce: bool,
}

pub(super) async fn facts(state: &AppState, tx: &mut SystemTx, user: UserId) -> AppResult<Facts> {
    let conn = tx.conn().await?;
    Ok(Facts {
        email: people::email(&mut *conn, user).await?,
        has_totp: totp::load(&mut *conn, &state.auth.data_key, user).await?.is_some(),
        recovery_left: recovery::remaining(&mut *conn, user).await?,
        passkeys: passkeys::list(&mut *conn, user).await?,
        usable_passkeys: passkeys::count_usable(&mut *conn, user).await?,
        workforce: people::is_workforce(&mut *conn, user).await?,
    })
}

/// The zone the account page shows times in: the person's own, else the clinic's they
/// are working in, else UTC.
async fn viewer_zone(tx: &mut SystemTx, session: &Session, user: UserId) -> AppResult<(Option<String>, Tz)> {
    let own = repo::timezone(tx.conn().await?, user).await?;
    let clinic = session::load(session).await?.user.and_then(|u| u.clinic_timezone);
    let zone = own.iter().chain(clinic.iter()).find_map(|z| z.parse::<Tz>().ok()).unwrap_or(Tz::UTC);
    Ok((own, zone))
}

/// What a re-rendered account page says next to its forms.
#[derive(Default)]
pub(super) struct Said {
    pub(super) notice: Option<String>,
    pub(super) password_error: Option<String>,
    /// The address typed and what is wrong with it.
    pub(super) email_error: Option<(String, String)>,
    pub(super) timezone_error: Option<String>,
}

pub(super) async fn render(
    state: &AppState,
    tx: &mut SystemTx,
    session: &Session,
    user: UserId,
    said: Said,
) -> AppResult<SecurityPage> {
    let facts = facts(state, tx, user).await?;
    let (own_zone, zone) = viewer_zone(tx, session, user).await?;
    let date = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&zone).format("%b %-d, %Y").to_string();
    let current = session.id().map(|id| crate::auth::session_store::digest(&id.to_string()));
    let list = sessions::list(tx.conn().await?, user).await?;
    let (new_email, email_error) =
        said.email_error.map_or((String::new(), None), |(value, error)| (value, Some(error)));
    Ok(SecurityPage {
        notice: said.notice,
        email: facts.email,
        has_totp: facts.has_totp,
        can_remove_totp: !facts.workforce || facts.usable_passkeys > 0,
        recovery_left: facts.recovery_left,
        passkeys: facts
            .passkeys
            .iter()
            .map(|p| PasskeyRow {
                id: p.id.to_string(),
                name: p.name.clone(),
                created: date(p.created_at),
                last_used: p.last_used_at.map(date),
                disabled: p.disabled,
            })
            .collect(),
        sessions: list
            .into_iter()
            .map(|s| SessionRow {
                current: Some(&s.session_id) == current.as_ref(),
                key: s.session_id.clone(),
                device: s.user_agent.as_deref().map(describe_agent).unwrap_or("Unknown browser").to_owned(),
                since: s.created_at.with_timezone(&zone).format("%b %-d, %Y, %H:%M %Z").to_string(),
                ip: s.ip,
            })
            .collect(),
        min_length: if facts.workforce {
            password_policy::MIN_LENGTH_STAFF
        } else {
            password_policy::MIN_LENGTH
        },
        password_error: said.password_error,
        new_email,
        email_error,
        timezone: own_zone.unwrap_or_default(),
        zones: crate::clock::offered_zones(),
        shown_in: zone.name().to_owned(),
        timezone_error: said.timezone_error,
    })
}

/// A short name for a browser from its user agent.
fn describe_agent(agent: &str) -> &'static str {
    let os = if agent.contains("iPhone") || agent.contains("iPad") {
        "iOS"
    } else if agent.contains("Android") {
        "Android"
    } else if agent.contains("Mac OS X") {
        "macOS"
    } else if agent.contains("Windows") {
        "Windows"
    } else if agent.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    let browser = if agent.contains("Edg/") {
        "Edge"
    } else if agent.contains("Chrome/") || agent.contains("Chromium/") {
        "Chrome"
    } else if agent.contains("Firefox/") {
        "Firefox"
    } else if agent.contains("Safari/") {
        "Safari"
    } else {
        "Browser"
    };
    match (browser, os) {
        ("Chrome", "Linux") => "Chrome on Linux",
        ("Chrome", "macOS") => "Chrome on macOS",
        ("Chrome", "Windows") => "Chrome on Windows",
        ("Chrome", "Android") => "Chrome on Android",
        ("Safari", "iOS") => "Safari on iPhone or iPad",
        ("Safari", "macOS") => "Safari on macOS",
        ("Firefox", "Linux") => "Firefox on Linux",
        ("Firefox", "Windows") => "Firefox on Windows",
        ("Firefox", "macOS") => "Firefox on macOS",
        ("Edge", _) => "Edge",
        ("Browser", _) => "Other browser or app",
        (b, _) => b,
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
    Query(done): Query<Done>,
) -> AppResult<Page<SecurityPage>> {
    let said = Said { notice: done_notice(&done.done), ..Default::default() };
    let page = render(&state, &mut tx, &session, auth.user_id, said).await?;
    tx.commit().await?;
    Ok(Page(page))
}

/// `GET /account`. `done` names a change just made elsewhere (a fixed list: the page
/// never shows text from the address).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct Done {
    done: String,
}

fn done_notice(done: &str) -> Option<String> {
    let said = match done {
        "app-set-up" => "The authenticator app is set up. Your other sessions were signed out.",
        "app-removed" => "The authenticator app was removed. Your other sessions were signed out.",
        "passkey-added" => "The passkey was added. Your other sessions were signed out.",
        "passkey-removed" => "The passkey was removed. Your other sessions were signed out.",
        "email-changed" => "Your sign-in address was changed. The old address was told.",
        _ => return None,
    };
    Some(said.to_owned())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct TimezoneForm {
    timezone: String,
}

/// `POST /account/timezone`: the zone this person's times are shown in ("" = the
/// clinic's).
pub(crate) async fn set_timezone(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
    Form(form): Form<TimezoneForm>,
) -> AppResult<Response> {
    let chosen = form.timezone.trim();
    if !chosen.is_empty() && chosen.parse::<Tz>().is_err() {
        let said =
            Said { timezone_error: Some("Choose a timezone from the list.".into()), ..Default::default() };
        let page = render(&state, &mut tx, &session, auth.user_id, said).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    repo::set_timezone(tx.conn().await?, auth.user_id, (!chosen.is_empty()).then_some(chosen)).await?;
    let notice = if chosen.is_empty() {
        "Times now show in your clinic's timezone.".to_owned()
    } else {
        format!("Times now show in {chosen}.")
    };
    let said = Said { notice: Some(notice), ..Default::default() };
    let page = render(&state, &mut tx, &session, auth.user_id, said).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct EndOneForm {
    session: String,
}

/// `POST /account/sessions/end`: signs out one other session (a lost phone, a shared desk).
pub(crate) async fn end_one_session(
    _: SteppedUp,
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
    Form(form): Form<EndOneForm>,
) -> AppResult<Page<SecurityPage>> {
    let current = session.id().map(|id| id.to_string()).unwrap_or_default();
    let ended = sessions::end_one(tx.conn().await?, auth.user_id, &form.session, &current).await?;
    let notice = if ended {
        let mut event =
            AuditEvent::new(Action::SessionsEnded, Outcome::Success).resource("user", auth.user_id);
        event.details = json!({ "ended": 1 });
        tx.audit(&event).await?;
        "That session was signed out."
    } else {
        "That session had ended already."
    };
    let said = Said { notice: Some(notice.into()), ..Default::default() };
    let page = render(&state, &mut tx, &session, auth.user_id, said).await?;
    tx.commit().await?;
    Ok(Page(page))
}

pub(crate) async fn end_other_sessions(
    _: SteppedUp,
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
) -> AppResult<Page<SecurityPage>> {
    let ended = signin::end_other_sessions(tx.conn().await?, auth.user_id, &session).await?;
    let mut event = AuditEvent::new(Action::SessionsEnded, Outcome::Success).resource("user", auth.user_id);
    event.details = json!({ "ended": ended });
    tx.audit(&event).await?;
    let notice = Some(format!("Signed out of {ended} other session(s)."));
    let page = render(&state, &mut tx, &session, auth.user_id, Said { notice, ..Default::default() }).await?;
    tx.commit().await?;
    Ok(Page(page))
}
