use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use tower_sessions::Session;

use super::repo::{self, Member};
use super::views::{ImpersonationPage, MemberLine, RecordLine, StartForm};
use crate::audit::{self, Action, AuditEvent, Outcome};
use crate::auth::contexts;
use crate::auth::policy::{Principal, StaffRole};
use crate::auth::session::{self, ContextClaim, Impersonating};
use crate::auth::signin;
use crate::db::ids::{MembershipId, OrganizationId, UserId};
use crate::db::tenant::{TenantContext, scoped};
use crate::web::authenticate::Authenticated;
use crate::web::{AppError, AppResult, AppState, Page, StepUp, SystemTx, TenantTx, parse_form};

fn when(at: DateTime<Utc>) -> String {
    at.format("%b %-d, %Y %H:%M UTC").to_string()
}

/// Why `member` cannot be acted as by `administrator`, if they cannot: themselves, an
/// administrator (a role not below one's own: acting as another administrator would
/// also let one person pass the two-person rule alone), or not an active member.
fn not_offered(member: &Member, administrator: UserId) -> Option<&'static str> {
    if member.user_id == administrator {
        Some("you")
    } else if member.role == StaffRole::OrgAdmin.as_str() {
        Some("an administrator, like you")
    } else if !member.active {
        Some("not active")
    } else {
        None
    }
}

fn page_for(
    members: Vec<Member>,
    records: Vec<repo::Record>,
    administrator: UserId,
    form: StartForm,
    error: Option<String>,
) -> ImpersonationPage {
    ImpersonationPage {
        members: members
            .into_iter()
            .map(|m| MemberLine {
                membership_id: m.membership_id.to_string(),
                not_offered: not_offered(&m, administrator),
                name: m.name,
                role: StaffRole::parse(&m.role).map_or("member", StaffRole::label),
            })
            .collect(),
        records: records
            .into_iter()
            .map(|r| RecordLine {
                administrator: r.administrator,
                target: format!(
                    "{} ({})",
                    r.target,
                    StaffRole::parse(&r.target_role).map_or("member", StaffRole::label)
                ),
                reason: r.reason,
                period: match r.ended_at {
                    Some(ended) => format!("{} to {}", when(r.started_at), when(ended)),
                    None => format!("{}, not ended", when(r.started_at)),
                },
            })
            .collect(),
        form,
        error,
    }
}

/// `GET /impersonation`: whom the administrator may act as, and the clinic's record.
pub async fn page(tx: TenantTx) -> AppResult<Page<ImpersonationPage>> {
    let me = tx.context().tenant.user_id.ok_or(AppError::Unauthorized)?;
    let members = repo::members(&mut *tx.conn().await?).await?;
    let records = repo::recent(&mut *tx.conn().await?).await?;
    Ok(Page(page_for(members, records, me, StartForm::default(), None)))
}

/// `POST /impersonation`: acts as one member of this clinic, with a reason, after
/// step-up. Refused: oneself, an administrator, another clinic's member (not found), an
/// inactive member, and acting as someone already (no nesting).
pub async fn start(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    step_up: StepUp,
    mut tx: SystemTx,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal_returning_to("/impersonation") {
        return Ok(refusal);
    }
    if auth.impersonating.is_some() {
        return Err(AppError::Forbidden);
    }
    let own = auth.context.ok_or(AppError::Unauthorized)?;
    let ContextClaim::Staff { organization_id: clinic, role: StaffRole::OrgAdmin } = own else {
        return Err(AppError::Forbidden);
    };
    let form: StartForm = parse_form(&body)?;
    let me = auth.user_id;
    let now = tx.now();
    let request = tx.request().clone();
    let administrator = Some(StaffRole::OrgAdmin.as_str().to_owned());
    let context = TenantContext::person_in(clinic, me, administrator, request.clone());
    let membership: Option<MembershipId> = form.membership.parse().ok();
    let reason = form.reason.trim().to_owned();
    enum Asked {
        Started(uuid::Uuid, Member, String),
        Refused(StatusCode, String),
    }
    let outcome = scoped(&mut *tx.conn().await?, &context, async |conn| {
        // The administrator's own context holds now (this route has no tenant transaction).
        match contexts::resolve(conn, me, own, now).await? {
            Some(resolved) if resolved.principal == Principal::Staff(StaffRole::OrgAdmin) => {}
            _ => return Ok(None),
        }
        let target = match membership {
            Some(id) => repo::member(conn, id).await?,
            None => None,
        };
        let Some(target) = target else {
            return Ok(Some(Asked::Refused(StatusCode::NOT_FOUND, "Choose a member of this clinic.".into())));
        };
        if let Some(why) = not_offered(&target, me) {
            let message = format!("{} cannot be acted as: {why}.", target.name);
            return Ok(Some(Asked::Refused(StatusCode::FORBIDDEN, message)));
        }
        if !(10..=500).contains(&reason.chars().count()) {
            let message = "Say why you act as them (10 to 500 characters): it is kept with the record.";
            return Ok(Some(Asked::Refused(StatusCode::UNPROCESSABLE_ENTITY, message.into())));
        }
        let id = repo::start(conn, clinic, me, &target, &reason, now).await?;
        let clinic_name = contexts::clinic_name(conn, clinic).await?;
        let both = TenantContext { acting_for: Some(target.user_id), ..context.clone() };
        let event = AuditEvent::new(Action::ImpersonationStarted, Outcome::Success)
            .resource("impersonation", id)
            .details(json!({ "target": target.user_id.to_string(), "target_role": target.role }));
        audit::record(conn, &both, &event).await?;
        Ok(Some(Asked::Started(id, target, clinic_name)))
    })
    .await?;
    let (id, target, clinic_name) = match outcome {
        None => return Err(AppError::ContextEnded),
        Some(Asked::Refused(status, message)) => {
            let page = scoped(&mut *tx.conn().await?, &context, async |conn| {
                Ok(page_for(
                    repo::members(conn).await?,
                    repo::recent(conn).await?,
                    me,
                    form.clone(),
                    Some(message.clone()),
                ))
            })
            .await?;
            return Ok((status, Page(page)).into_response());
        }
        Some(Asked::Started(id, target, clinic_name)) => (id, target, clinic_name),
    };
    let role = StaffRole::parse(&target.role).ok_or(AppError::Internal)?;
    let own_label = session::load(&session).await?.user.and_then(|u| u.context_label);
    let impersonating = Impersonating {
        id,
        target: target.user_id,
        target_label: format!("{} ({})", target.name, role.label()),
        own_context: own,
        own_label,
    };
    let label = format!("Acting as {} · {clinic_name}", impersonating.target_label);
    let claim = ContextClaim::Staff { organization_id: clinic, role };
    let step = state.sign_in_step(&session, request, now);
    let entered =
        signin::enter_granted(&mut *tx.conn().await?, &step, claim, label, Some(impersonating)).await;
    let next = signin::settle(&step, entered, tx.commit()).await?;
    Ok(Redirect::to(&next).into_response())
}

/// `POST /impersonation/end`: back to the administrator's own context, with a new
/// session id.
pub async fn end(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
) -> AppResult<Response> {
    let Some((record, target)) = auth.impersonating else { return Err(AppError::NotFound) };
    let clinic: OrganizationId = auth.context.and_then(|c| c.organization_id()).ok_or(AppError::NotFound)?;
    let now = tx.now();
    let request = tx.request().clone();
    let administrator = Some(StaffRole::OrgAdmin.as_str().to_owned());
    let context = TenantContext {
        acting_for: Some(target),
        ..TenantContext::person_in(clinic, auth.user_id, administrator, request.clone())
    };
    scoped(&mut *tx.conn().await?, &context, async |conn| {
        if repo::end(conn, record, auth.user_id, now).await? {
            let event = AuditEvent::new(Action::ImpersonationStopped, Outcome::Success)
                .resource("impersonation", record);
            audit::record(conn, &context, &event).await?;
        }
        Ok(())
    })
    .await?;
    let step = state.sign_in_step(&session, request, now);
    let left = signin::leave_impersonation(&mut *tx.conn().await?, &step).await;
    let next = signin::settle(&step, left, tx.commit()).await?;
    Ok(Redirect::to(&next).into_response())
}
