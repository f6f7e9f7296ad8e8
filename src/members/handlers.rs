use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::views::{InviteErrors, InviteForm, MemberRow, MembersPage, PendingRow};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::emails::StaffInvitation;
use crate::auth::policy::{Permission, StaffRole, Target};
use crate::auth::tokens::{self, NewToken, Purpose};
use crate::db::ids::{MembershipId, UserId};
use crate::web::{AppError, AppResult, AppState, Page, SteppedUp, TenantTx};

fn roles() -> Vec<(&'static str, &'static str)> {
    StaffRole::ALL.iter().map(|r| (r.as_str(), r.label())).collect()
}

async fn render(
    tx: &TenantTx,
    notice: Option<String>,
    form: InviteForm,
    errors: InviteErrors,
) -> AppResult<MembersPage> {
    let me = tx.context().tenant.user_id;
    let org = tx.context().tenant.organization_id;
    let mut db = tx.conn().await?;
    let clinic = sqlx::query_scalar!("SELECT name FROM organizations WHERE id = $1", org.as_uuid())
        .fetch_one(&mut *db)
        .await?;
    let members = sqlx::query!(
        r#"SELECT m.id AS "id: MembershipId", m.role, m.user_id AS "user_id: UserId",
                  CASE WHEN m.status = 'suspended' AND m.accepted_at IS NULL THEN 'cancelled' ELSE m.status END
                      AS "status!",
                  CASE WHEN m.accepted_at IS NULL THEN coalesce(m.invited_name, u.email::text) ELSE u.display_name END
                      AS "display_name!",
                  u.email::text AS "email!"
             FROM memberships m JOIN users u ON u.id = m.user_id
            ORDER BY 5, m.role"#
    )
    .fetch_all(&mut *db)
    .await?;
    let pending = sqlx::query!(
        r#"SELECT email::text AS "email!", expires_at FROM auth_tokens
            WHERE purpose = 'staff_invitation' AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            ORDER BY created_at DESC"#
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(MembersPage {
        clinic,
        notice,
        members: members
            .into_iter()
            .map(|m| MemberRow {
                id: m.id.to_string(),
                is_me: Some(m.user_id) == me,
                name: m.display_name,
                email: m.email,
                role: m.role,
                status: m.status,
            })
            .collect(),
        pending: pending
            .into_iter()
            .map(|p| PendingRow { email: p.email, expires: p.expires_at.format("%Y-%m-%d").to_string() })
            .collect(),
        roles: roles(),
        form,
        errors,
    })
}

pub async fn page(tx: TenantTx) -> AppResult<Page<MembersPage>> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    Ok(Page(render(&tx, None, InviteForm::default(), InviteErrors::default()).await?))
}

/// Invites a person by e-mail. Whether the address already has an account (here, at
/// another clinic, as a patient) changes nothing the inviter sees: the page shows the
/// name they typed until the person accepts.
pub async fn invite(
    State(state): State<AppState>,
    tx: TenantTx,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let mut form = InviteForm::default();
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "display_name" => form.display_name = value.trim().to_owned(),
            "email" => form.email = value.trim().to_owned(),
            "role" => form.roles.push(value.into_owned()),
            _ => {}
        }
    }
    let chosen: Vec<StaffRole> = form.roles.iter().filter_map(|r| StaffRole::parse(r)).collect();
    let errors = InviteErrors {
        name: (form.display_name.is_empty() || form.display_name.chars().count() > 200)
            .then(|| "Enter the person's name.".into()),
        email: crate::contact_info::normalize_email(&form.email).err().map(str::to_owned),
        roles: chosen.is_empty().then(|| "Choose at least one role.".into()),
    };
    if errors.name.is_some() || errors.email.is_some() || errors.roles.is_some() {
        let page = render(&tx, None, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let context = tx.context().tenant.clone();
    let now = state.clock.now();
    let email =
        crate::contact_info::normalize_email(&form.email).map_err(|e| AppError::BadRequest(e.into()))?;
    let own = match context.user_id {
        Some(me) => crate::auth::people::is_own_mailbox(&mut *tx.conn().await?, me, &email).await?,
        None => false,
    };
    let person = tx
        .platform(async |conn| crate::auth::people::find_or_create(conn, &email, &form.display_name).await)
        .await?;
    // An administrator gives roles to others, never to themselves under any address of
    // theirs (that takes a second administrator), so this role cannot become a way into
    // patient data.
    if own || Some(person) == context.user_id {
        let errors =
            InviteErrors { email: Some("You cannot invite yourself.".into()), ..InviteErrors::default() };
        let page = render(&tx, None, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    {
        let mut db = tx.conn().await?;
        for role in &chosen {
            sqlx::query!(
                "INSERT INTO memberships (organization_id, user_id, role, status, invited_by, invited_name, accepted_at)
                 VALUES ($1, $2, $3, 'invited', $4, $5, NULL)
                 ON CONFLICT (organization_id, user_id, role) DO NOTHING",
                context.organization_id.as_uuid(),
                person.as_uuid(),
                role.as_str(),
                context.user_id.map(|u| u.as_uuid()),
                form.display_name
            )
            .execute(&mut *db)
            .await?;
        }
        let labels = chosen.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ");
        let clinic = sqlx::query_scalar!(
            "SELECT name FROM organizations WHERE id = $1",
            context.organization_id.as_uuid()
        )
        .fetch_one(&mut *db)
        .await?;
        let inviter = match context.user_id {
            Some(me) => {
                sqlx::query_scalar!("SELECT display_name FROM users WHERE id = $1", me.as_uuid())
                    .fetch_one(&mut *db)
                    .await?
            }
            None => "Your clinic".into(),
        };
        // Sent by the queue once this request commits; if it fails, nothing is sent.
        tokens::mail_link(
            &mut db,
            &state.notifier,
            &state.config.http.public_url,
            "invite/",
            NewToken {
                purpose: Purpose::StaffInvitation,
                email: &email,
                user_id: Some(person),
                organization_id: Some(context.organization_id),
                payload: json!({ "roles": chosen.iter().map(|r| r.as_str()).collect::<Vec<_>>(), "role_labels": labels }),
                created_by: context.user_id,
            },
            now,
            |link| {
                StaffInvitation { inviter, clinic, roles: labels.clone(), link: link.url, expires: link.expires }
                    .render(&email)
            },
        )
        .await?;
    }
    let mut event = AuditEvent::new(Action::InvitationSent, Outcome::Success).resource("user", person);
    event.details = json!({ "roles": chosen.iter().map(|r| r.as_str()).collect::<Vec<_>>() });
    tx.audit(&event).await?;
    let notice = Some(format!("Invitation sent to {}.", form.email));
    Ok(Page(render(&tx, notice, InviteForm::default(), InviteErrors::default()).await?).into_response())
}

fn membership(id: &str) -> AppResult<MembershipId> {
    id.parse().map_err(|_| AppError::NotFound)
}

#[derive(serde::Deserialize)]
pub(crate) struct RoleForm {
    role: String,
}

pub(crate) async fn change_role(
    _: SteppedUp,
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let form: RoleForm = crate::web::parse_form(&body)?;
    let id = membership(&id)?;
    let role = StaffRole::parse(&form.role)
        .ok_or_else(|| AppError::BadRequest("Choose a role from the list.".into()))?;
    // Another clinic's membership (or none) is not found, like any other object.
    let exists = {
        let mut db = tx.conn().await?;
        sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM memberships WHERE id = $1) AS "exists!""#,
            id.as_uuid()
        )
        .fetch_one(&mut *db)
        .await?
    };
    if !exists {
        return Err(tx.not_found("membership", id.as_uuid()).await);
    }
    // Nobody changes their own role (a second administrator does).
    let me = tx.context().tenant.user_id.map(|u| u.as_uuid());
    let changed = {
        let mut db = tx.conn().await?;
        sqlx::query!(
            "UPDATE memberships SET role = $2 WHERE id = $1 AND user_id IS DISTINCT FROM $3
               AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.user_id = memberships.user_id AND o.role = $2)",
            id.as_uuid(),
            role.as_str(),
            me
        )
        .execute(&mut *db)
        .await?
        .rows_affected()
    };
    let notice = if changed == 1 {
        tx.audit(
            &AuditEvent::success(Action::Update, "membership", id).details(json!({ "role": role.as_str() })),
        )
        .await?;
        "Role changed.".to_owned()
    } else {
        "Not changed: that person already has that role, or is no longer a member, or it is your own \
         membership (another administrator changes that)."
            .to_owned()
    };
    Ok(Page(render(&tx, Some(notice), InviteForm::default(), InviteErrors::default()).await?).into_response())
}

/// Moves a membership to `status` from one of the states in `from`: deactivating ends an
/// active membership or cancels an invitation; reactivating only restores a suspended one
/// (an invitation becomes active only when the invited person accepts it).
async fn set_status(tx: TenantTx, id: String, from: &[&str], status: &'static str) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let id = membership(&id)?;
    let me = tx.context().tenant.user_id.map(|u| u.as_uuid());
    let changed = {
        let mut db = tx.conn().await?;
        // Administrators cannot lock themselves out, and only a membership someone once
        // accepted comes back: a cancelled invitation stays cancelled.
        sqlx::query!(
            "UPDATE memberships SET status = $2
             WHERE id = $1 AND user_id IS DISTINCT FROM $3 AND status = ANY($4)
               AND ($2 <> 'active' OR accepted_at IS NOT NULL)",
            id.as_uuid(),
            status,
            me,
            &from.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        )
        .execute(&mut *db)
        .await?
        .rows_affected()
    };
    if changed == 0 {
        return Err(tx.not_found("membership", id.as_uuid()).await);
    }
    tx.audit(&AuditEvent::success(Action::Update, "membership", id).details(json!({ "status": status })))
        .await?;
    let notice = if status == "active" {
        "Member reactivated."
    } else {
        "Member deactivated: their access here ends now."
    };
    Ok(Page(render(&tx, Some(notice.into()), InviteForm::default(), InviteErrors::default()).await?)
        .into_response())
}

pub async fn deactivate(_: SteppedUp, tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    set_status(tx, id, &["active", "invited"], "suspended").await
}

pub async fn reactivate(_: SteppedUp, tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    set_status(tx, id, &["suspended"], "active").await
}
