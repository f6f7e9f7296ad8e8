use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::repo;
use super::views::{AcceptPage, Invitation, Step};
use crate::audit::{self, Action, AuditEvent, Outcome};
use crate::auth::password_policy;
use crate::auth::session::{self, SessionData};
use crate::auth::signin::{self, FirstFactor, FlowPage};
use crate::auth::tokens::{self, Purpose, Token};
use crate::db::ids::{OrganizationId, UserId};
use crate::db::tenant::{TenantContext, scoped};
use crate::web::{AppError, AppResult, AppState, Page, SystemTx};

const PENDING: &str = "invitation";

/// The link from the e-mail: keep the token server-side, show the invitation.
pub async fn link(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> AppResult<Response> {
    session::park_token(&session, PENDING, token, state.clock.now(), state.config.auth.absolute_limit())
        .await?;
    Ok(Redirect::to("/invite").into_response())
}

fn pending(data: &SessionData) -> Option<&str> {
    session::parked_token(data, PENDING)
}

/// The account an invitation is for: (has a password, is the signed-in person).
struct Invitee {
    user: UserId,
    display_name: String,
    has_password: bool,
}

async fn invitee(tx: &mut SystemTx, token: &Token) -> AppResult<Option<Invitee>> {
    let Some(user) = token.user_id else { return Ok(None) };
    tx.set_user(Some(user)).await?;
    let row = repo::account(tx.conn().await?, user).await?;
    Ok(row.map(|r| Invitee {
        user,
        display_name: r.display_name,
        has_password: r.has_password.unwrap_or(false),
    }))
}

async fn clinic_name(tx: &mut SystemTx, org: Option<OrganizationId>) -> AppResult<String> {
    let Some(org) = org else { return Ok("A clinic".into()) };
    let name = repo::clinic_name(tx.conn().await?, org).await?.unwrap_or_else(|| "A clinic".into());
    Ok(name)
}

async fn describe(tx: &mut SystemTx, token: &Token, step: Step) -> AppResult<Invitation> {
    let clinic = clinic_name(tx, token.organization_id).await?;
    let (headline, detail) = match token.purpose {
        Purpose::StaffInvitation => {
            let roles = token.payload["role_labels"].as_str().unwrap_or("staff").to_owned();
            (format!("{clinic} invited you"), format!("You are invited to work at {clinic} on Lockdev as: {roles}."))
        }
        Purpose::PatientActivation => (
            format!("{clinic} invited you to its patient portal"),
            "Set up your sign-in to see your appointments and records online.".to_owned(),
        ),
        _ => (
            format!("{clinic} gave you access"),
            "You can help manage the care of a patient of this clinic. You will see who once your account is set up."
                .to_owned(),
        ),
    };
    Ok(Invitation {
        headline,
        detail,
        email: token.email.clone(),
        expires: token.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        min_length: if token.purpose == Purpose::StaffInvitation {
            password_policy::MIN_LENGTH_STAFF
        } else {
            password_policy::MIN_LENGTH
        },
        step,
    })
}

fn step_for(signed_in: Option<UserId>, invitee: &Invitee) -> Step {
    match signed_in {
        Some(user) if user == invitee.user => Step::Accept,
        Some(_) => Step::WrongAccount,
        None if invitee.has_password => Step::SignIn,
        None => Step::CreateAccount,
    }
}

fn unavailable() -> Response {
    let page = AcceptPage {
        invitation: None,
        display_name: String::new(),
        error: None,
        name_error: None,
        password_error: None,
    };
    (StatusCode::GONE, Page(page)).into_response()
}

pub async fn page(session: Session, mut tx: SystemTx) -> AppResult<Response> {
    let data = session::load(&session).await?;
    let Some(text) = pending(&data) else { return Ok(unavailable()) };
    let now = tx.now();
    let token = tokens::peek_invitation(tx.conn().await?, text, now).await?;
    let Some(token) = token else { return Ok(unavailable()) };
    let Some(invitee) = invitee(&mut tx, &token).await? else { return Ok(unavailable()) };
    let signed_in = data.user.as_ref().filter(|u| u.second_factor_satisfied()).map(|u| u.user_id);
    let step = step_for(signed_in, &invitee);
    let invitation = describe(&mut tx, &token, step).await?;
    tx.commit().await?;
    Ok(Page(AcceptPage {
        invitation: Some(invitation),
        display_name: invitee.display_name,
        error: None,
        name_error: None,
        password_error: None,
    })
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct AcceptForm {
    display_name: Option<String>,
    password: Option<String>,
}

pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    mut tx: SystemTx,
    Form(form): Form<AcceptForm>,
) -> AppResult<Response> {
    let now = tx.now();
    let mut data = session::load(&session).await?;
    let Some(text) = pending(&data).map(str::to_owned) else { return Ok(unavailable()) };
    let peeked = tokens::peek_invitation(tx.conn().await?, &text, now).await?;
    let Some(peeked) = peeked else { return Ok(unavailable()) };
    let Some(invitee) = invitee(&mut tx, &peeked).await? else { return Ok(unavailable()) };
    let signed_in = data.user.as_ref().filter(|u| u.second_factor_satisfied()).map(|u| u.user_id);
    let step = step_for(signed_in, &invitee);

    // A new account: name and password first, with errors next to the fields.
    let mut new_password = None;
    let mut display_name = invitee.display_name.clone();
    match step {
        Step::Accept => {}
        Step::CreateAccount => {
            display_name = form.display_name.unwrap_or_default().trim().to_owned();
            let password = form.password.unwrap_or_default();
            let name_error = (display_name.is_empty() || display_name.chars().count() > 200)
                .then(|| "Enter your name.".to_owned());
            let staff = peeked.purpose == Purpose::StaffInvitation;
            let password_error = password_policy::check(&password, staff, &[&peeked.email, &display_name])
                .err()
                .map(|r| r.to_string());
            if name_error.is_some() || password_error.is_some() {
                let invitation = describe(&mut tx, &peeked, step).await?;
                let page = AcceptPage {
                    invitation: Some(invitation),
                    display_name,
                    error: None,
                    name_error,
                    password_error,
                };
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
            }
            // No connection is held while the hash is computed.
            tx.commit().await?;
            new_password = Some(state.auth.passwords.hash(password).await?);
        }
        Step::SignIn | Step::WrongAccount => return Ok(Redirect::to("/invite").into_response()),
    }

    // Spend the token, set up the account, turn on what it grants and sign in: one
    // transaction.
    let user = invitee.user;
    let Some(token) = tokens::redeem(tx.conn().await?, peeked.purpose, &text, now).await? else {
        return Ok(unavailable());
    };
    if let Some(hash) = &new_password {
        repo::set_first_password(tx.conn().await?, user, hash, &display_name, now).await?;
    }
    // Nothing to accept any more: the token is not spent (the transaction rolls back).
    if !activate(&mut tx, &token, user).await? {
        return Ok(unavailable());
    }

    data.pending_token = None;
    let step_context = state.sign_in_step(&session, tx.request().clone(), now);
    step_context.store(&data).await?;
    let next = if step == Step::CreateAccount {
        // The invitation e-mail proved the address: signed in with the new password,
        // still owing a second factor where the role needs one.
        let request = tx.request().clone();
        let step_context = state.sign_in_step(&session, request, now);
        let outcome = signin::start(tx.conn().await?, &step_context, user, FirstFactor::Password).await;
        signin::settle(&step_context, outcome, tx.commit()).await?
    } else {
        state.pages.path(FlowPage::ChooseContext).to_owned()
    };
    tx.commit().await?;
    Ok(Redirect::to(&next).into_response())
}

/// Turns on what the invitation grants, inside the inviting clinic; false when there is
/// nothing left to turn on (cancelled or revoked since it was sent, or the chart has its
/// account already).
async fn activate(tx: &mut SystemTx, token: &Token, user: UserId) -> AppResult<bool> {
    let org = token.organization_id.ok_or(AppError::NotFound)?;
    let context =
        TenantContext { user_id: Some(user), request: tx.request().clone(), ..TenantContext::system(org) };
    let id = |key: &str| token.payload[key].as_str().and_then(|s| s.parse::<uuid::Uuid>().ok());
    let patient_id = id("patient_id");
    let assignment_id = id("assignment_id");
    if matches!(token.purpose, Purpose::EmailVerification | Purpose::PasswordReset) {
        return Err(AppError::NotFound);
    }
    scoped(tx.conn().await?, &context, async |tx| {
        let mut event = AuditEvent::new(Action::InvitationAccepted, Outcome::Success).resource("user", user);
        match token.purpose {
            Purpose::StaffInvitation => {
                let activated = repo::activate_memberships(tx, user).await?;
                // Cancelled since it was sent: nothing to accept.
                if !activated {
                    return Ok(false);
                }
            }
            Purpose::PatientActivation => {
                let Some(patient) = patient_id else { return Err(sqlx::Error::RowNotFound) };
                let linked = repo::link_portal_account(tx, patient, user).await?;
                // The chart already has its account, or is gone: nothing to accept.
                if !linked {
                    return Ok(false);
                }
                event.patient_id = Some(crate::db::ids::PatientId::from_uuid(patient));
            }
            Purpose::ProxyInvitation => {
                let Some(assignment) = assignment_id else { return Err(sqlx::Error::RowNotFound) };
                let patient = repo::accept_grant(tx, assignment, user).await?;
                // Revoked since it was sent: nothing to accept.
                let Some(patient) = patient else { return Ok(false) };
                event.patient_id = Some(crate::db::ids::PatientId::from_uuid(patient));
            }
            Purpose::EmailVerification | Purpose::PasswordReset => {}
        }
        event.details = serde_json::json!({ "purpose": token.purpose.as_str() });
        audit::record(tx, &context, &event).await.map(|_| true)
    })
    .await
    .map_err(AppError::from)
}
