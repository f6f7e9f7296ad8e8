use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::repo;
use super::views::{ClinicRow, ClinicsPage, CreateErrors, CreateForm};
use crate::audit::{Action, AuditEvent};
use crate::auth::emails::StaffInvitation;
use crate::auth::policy::StaffRole;
use crate::auth::tokens::{self, NewToken, Purpose};
use crate::db::ids::OrganizationId;
use crate::db::tenant::{TenantContext, scoped};
use crate::web::{AppError, AppResult, AppState, Page, StepUp, SystemTx, parse_form};

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%b %-d, %Y %H:%M UTC").to_string()
}

async fn render(
    tx: &mut SystemTx,
    notice: Option<String>,
    typed: Option<(CreateForm, CreateErrors)>,
    confirm_same_name: bool,
    reason_error: Option<(String, String)>,
) -> AppResult<ClinicsPage> {
    let conn = tx.conn().await?;
    // The database checks the role again: one revoked since the session was read is
    // refused here, not failed.
    let usage: HashMap<OrganizationId, repo::Usage> = match repo::usage(&mut *conn).await {
        Ok(rows) => rows.into_iter().map(|u| (u.organization_id, u)).collect(),
        Err(error) if crate::db::errors::lacks_privilege(&error) => return Err(AppError::Forbidden),
        Err(error) => return Err(error.into()),
    };
    let clinics = repo::clinics(conn)
        .await?
        .into_iter()
        .map(|c| {
            let counts = usage.get(&c.id);
            ClinicRow {
                id: c.id.to_string(),
                active: c.status == "active",
                status: c.status.clone(),
                suspension: match (c.suspended_at, c.suspended_reason) {
                    (Some(at), Some(reason)) => Some(format!("Suspended {}: {reason}", when(at))),
                    _ => None,
                },
                members: counts.map_or(0, |u| u.members),
                patients: counts.map_or(0, |u| u.patients),
                last_activity: counts.and_then(|u| u.last_activity).map_or_else(|| "never".into(), when),
                created: format!("{} ({})", when(c.created_at), c.timezone),
                name: c.name,
            }
        })
        .collect();
    let (form, errors) = typed.unwrap_or_else(|| {
        (CreateForm { timezone: "America/New_York".into(), ..CreateForm::default() }, CreateErrors::default())
    });
    Ok(ClinicsPage {
        notice,
        clinics,
        form,
        errors,
        confirm_same_name,
        zones: crate::clock::offered_zones(),
        reason_error,
    })
}

pub async fn page(mut tx: SystemTx) -> AppResult<Page<ClinicsPage>> {
    let page = render(&mut tx, None, None, false, None).await?;
    tx.commit().await?;
    Ok(Page(page))
}

/// `POST /platform/clinics`: a clinic and its first administrator's invitation.
pub async fn create(
    State(state): State<AppState>,
    mut tx: SystemTx,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let me = tx.user().ok_or(AppError::Unauthorized)?;
    let form: CreateForm = parse_form(&body)?;
    let mut errors = CreateErrors::default();
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.name = Some("Enter the clinic's name (up to 200 characters).".into());
    }
    let timezone = form.timezone.trim().to_owned();
    if !crate::clock::offered_zones().contains(&timezone.as_str()) {
        errors.timezone = Some("Choose the clinic's timezone from the list.".into());
    }
    let admin_name = form.admin_name.trim().to_owned();
    if admin_name.is_empty() || admin_name.chars().count() > 200 {
        errors.admin_name = Some("Enter the name of the clinic's first administrator.".into());
    }
    let email = crate::contact_info::normalize_email(&form.admin_email)
        .map_err(|e| errors.admin_email = Some(e.to_owned()))
        .ok();
    let Some(email) = email.filter(|_| !errors.any()) else {
        let page = render(&mut tx, None, Some((form, errors)), false, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };
    if form.same_name.is_empty() && repo::name_taken(tx.conn().await?, &name).await? {
        errors.name = Some(format!("A clinic named {name} exists already. Create a second one anyway?"));
        let page = render(&mut tx, None, Some((form, errors)), true, None).await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    }
    if crate::auth::people::is_own_mailbox(tx.conn().await?, me, &email).await? {
        errors.admin_email = Some(
            "A platform administrator is not a clinic's administrator: invite someone of the clinic.".into(),
        );
        let page = render(&mut tx, None, Some((form, errors)), false, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let now = tx.now();
    let request = tx.request().clone();
    let conn = tx.conn().await?;
    let clinic = repo::create(&mut *conn, &name, &timezone).await?;
    let person = crate::auth::people::find_or_create(&mut *conn, &email, &admin_name).await?;
    let context = TenantContext { user_id: Some(me), request, ..TenantContext::system(clinic) };
    scoped(&mut *conn, &context, async |conn| {
        repo::invite_admin(conn, clinic, person, me, &admin_name).await
    })
    .await?;
    let role = StaffRole::OrgAdmin;
    tokens::mail_link(
        &mut *conn,
        &state.notifier,
        &state.config.http.public_url,
        "invite/",
        NewToken {
            purpose: Purpose::StaffInvitation,
            email: &email,
            user_id: Some(person),
            organization_id: Some(clinic),
            payload: json!({ "roles": [role.as_str()], "role_labels": role.label() }),
            created_by: Some(me),
        },
        now,
        |link| {
            StaffInvitation {
                inviter: "Lockdev".into(),
                clinic: name.clone(),
                roles: role.label().into(),
                link: link.url,
                expires: link.expires,
            }
            .render(&email)
        },
    )
    .await?;
    tx.audit(
        &AuditEvent::success(Action::Create, "organization", clinic.as_uuid())
            .purpose("platform_clinics")
            .details(json!({ "before": null, "after": {
                "name": name, "timezone": timezone, "status": "active", "first_admin": person.to_string(),
            } })),
    )
    .await?;
    let notice = format!("{name} created. {admin_name} has been sent an invitation to administer it.");
    let page = render(&mut tx, Some(notice), None, false, None).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}

fn clinic_id(text: &str) -> AppResult<OrganizationId> {
    text.parse().map_err(|_| AppError::NotFound)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SuspendForm {
    pub reason: String,
}

/// `POST /platform/clinics/{organization_id}/suspend`: with a reason, after step-up.
pub async fn suspend(
    step_up: StepUp,
    mut tx: SystemTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal() {
        return Ok(refusal);
    }
    let clinic = clinic_id(&id)?;
    let form: SuspendForm = parse_form(&body)?;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        let message = "Say why the clinic is suspended (up to 500 characters); its administrators are told.";
        let page = render(&mut tx, None, None, false, Some((clinic.to_string(), message.into()))).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let now = tx.now();
    let Some(name) = repo::suspend(tx.conn().await?, clinic, reason, now).await? else {
        return Err(AppError::NotFound);
    };
    tx.audit(
        &AuditEvent::success(Action::Update, "organization", clinic.as_uuid())
            .purpose("platform_clinics.suspend")
            .details(json!({ "before": { "status": "active" }, "after": { "status": "suspended", "reason": reason } })),
    )
    .await?;
    let notice = format!("{name} is suspended: nobody can enter it and its jobs wait. Its data is kept.");
    let page = render(&mut tx, Some(notice), None, false, None).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}

/// `POST /platform/clinics/{organization_id}/restore`: after step-up.
pub async fn restore(step_up: StepUp, mut tx: SystemTx, Path(id): Path<String>) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal() {
        return Ok(refusal);
    }
    let clinic = clinic_id(&id)?;
    let Some((name, reason)) = repo::restore(tx.conn().await?, clinic).await? else {
        return Err(AppError::NotFound);
    };
    tx.audit(
        &AuditEvent::success(Action::Update, "organization", clinic.as_uuid())
            .purpose("platform_clinics.restore")
            .details(json!({ "before": { "status": "suspended", "reason": reason }, "after": { "status": "active" } })),
    )
    .await?;
    let notice = format!("{name} is restored: its people can sign in again.");
    let page = render(&mut tx, Some(notice), None, false, None).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}
