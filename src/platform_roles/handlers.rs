use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::repo;
use super::views::{GrantErrors, GrantForm, GrantRow, RolesPage};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::PlatformRole;
use crate::db::errors::lacks_privilege;
use crate::web::{AppError, AppResult, AppState, Page, StepUp, SystemTx, parse_form};

fn when(at: DateTime<Utc>) -> String {
    at.format("%b %-d, %Y %H:%M UTC").to_string()
}

fn label(role: &str) -> &'static str {
    PlatformRole::parse(role).map_or("Unknown role", PlatformRole::label)
}

async fn render(
    tx: &mut SystemTx,
    notice: Option<String>,
    typed: Option<(GrantForm, GrantErrors)>,
) -> AppResult<RolesPage> {
    let me = tx.user().ok_or(AppError::Unauthorized)?;
    let (live, ended): (Vec<_>, Vec<_>) = repo::grants(tx.conn().await?)
        .await?
        .into_iter()
        .map(|g| GrantRow {
            id: g.id.to_string(),
            own: g.user_id == me,
            role: label(&g.role),
            granted: match g.granted_by {
                Some(by) => format!("{} by {by}", when(g.granted_at)),
                None => when(g.granted_at),
            },
            ended: g.revoked_at.map(|at| match g.revoked_by {
                Some(by) => format!("{} by {by}", when(at)),
                None => when(at),
            }),
            name: g.name,
            email: g.email,
        })
        .partition(|row| row.ended.is_none());
    let (form, errors) = typed.unwrap_or_default();
    Ok(RolesPage {
        notice,
        live,
        ended,
        form,
        errors,
        roles: [PlatformRole::SuperAdmin, PlatformRole::Auditor].map(|r| (r.as_str(), r.label())).to_vec(),
    })
}

pub async fn page(mut tx: SystemTx) -> AppResult<Page<RolesPage>> {
    let page = render(&mut tx, None, None).await?;
    tx.commit().await?;
    Ok(Page(page))
}

async fn refused(
    tx: &mut SystemTx,
    status: StatusCode,
    form: GrantForm,
    errors: GrantErrors,
) -> AppResult<Response> {
    let page = render(tx, None, Some((form, errors))).await?;
    Ok((status, Page(page)).into_response())
}

/// `POST /platform/roles`: a platform role for another person's open account.
pub async fn grant(
    State(state): State<AppState>,
    step_up: StepUp,
    mut tx: SystemTx,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal_returning_to("/platform/roles") {
        return Ok(refusal);
    }
    let me = tx.user().ok_or(AppError::Unauthorized)?;
    let form: GrantForm = parse_form(&body)?;
    let mut errors = GrantErrors::default();
    let role = PlatformRole::parse(&form.role);
    if role.is_none() {
        errors.role = Some("Choose the role to grant.".into());
    }
    let email =
        crate::contact_info::normalize_email(&form.email).map_err(|e| errors.email = Some(e.to_owned())).ok();
    let (Some(role), Some(email)) = (role, email) else {
        return refused(&mut tx, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await;
    };
    let Some((person, name)) = repo::open_account(tx.conn().await?, &email).await? else {
        errors.email = Some(
            "No open account signs in with that address. The person needs a Lockdev account first.".into(),
        );
        return refused(&mut tx, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await;
    };
    if person == me {
        errors.email = Some("Nobody grants themselves a platform role: another super admin does.".into());
        return refused(&mut tx, StatusCode::FORBIDDEN, form, errors).await;
    }
    let now = tx.now();
    let granted = match repo::grant(tx.conn().await?, person, role.as_str(), now).await {
        Ok(granted) => granted,
        Err(error) if lacks_privilege(&error) => return Err(AppError::Forbidden),
        Err(error) => return Err(error.into()),
    };
    let Some(grant_id) = granted else {
        errors.email = Some(format!("{name} is a {} already.", role.label()));
        return refused(&mut tx, StatusCode::CONFLICT, form, errors).await;
    };
    tx.audit(
        &AuditEvent::success(Action::Create, "platform_role", grant_id)
            .purpose("platform_roles.grant")
            .details(
                json!({ "before": null, "after": { "user": person.to_string(), "role": role.as_str() } }),
            ),
    )
    .await?;
    let what = format!(
        "You were given the platform role {}. Your next sign-in asks for your second factor.",
        role.label()
    );
    crate::auth::notices::tell(tx.conn().await?, &state.notifier, person, &what, now).await?;
    let notice = format!("{name} is now a {}. They were told by e-mail.", role.label());
    let page = render(&mut tx, Some(notice), None).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}

/// `POST /platform/roles/{grant_id}/revoke`: ends another person's grant at once (the
/// role is read again with every request).
pub async fn revoke(
    State(state): State<AppState>,
    step_up: StepUp,
    mut tx: SystemTx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal_returning_to("/platform/roles") {
        return Ok(refusal);
    }
    let me = tx.user().ok_or(AppError::Unauthorized)?;
    let id: Uuid = id.parse().map_err(|_| AppError::NotFound)?;
    let Some((person, role, name)) = repo::live_grant(tx.conn().await?, id).await? else {
        return Err(AppError::NotFound);
    };
    if person == me {
        let mut page = render(&mut tx, None, None).await?;
        page.notice = Some("Nobody revokes their own platform role: another super admin does.".into());
        return Ok((StatusCode::FORBIDDEN, Page(page)).into_response());
    }
    let now = tx.now();
    match repo::revoke(tx.conn().await?, id, now).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(AppError::NotFound),
        Err(error) if lacks_privilege(&error) => return Err(AppError::Forbidden),
        Err(error) => return Err(error.into()),
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "platform_role", id).purpose("platform_roles.revoke").details(
            json!({
                "before": { "user": person.to_string(), "role": role, "revoked": false },
                "after": { "user": person.to_string(), "role": role, "revoked": true },
            }),
        ),
    )
    .await?;
    let what = format!("Your platform role {} was revoked.", label(&role));
    crate::auth::notices::tell(tx.conn().await?, &state.notifier, person, &what, now).await?;
    let notice = format!("{name} is no longer a {}.", label(&role));
    let page = render(&mut tx, Some(notice), None).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}
