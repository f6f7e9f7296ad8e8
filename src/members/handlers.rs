use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::repo;
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
    let clinic = repo::clinic_name(&mut db, org).await?;
    let members = repo::members(&mut db).await?;
    let pending = repo::pending_invitations(&mut db).await?;
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
    // Roles the person holds here already are left as they are; a deactivated member is
    // reactivated from the list, not invited again (their history stays one row).
    let standing = repo::standing(&mut *tx.conn().await?, person).await?;
    let held = |role: StaffRole, state: &dyn Fn(&str, bool) -> bool| {
        standing.iter().any(|(r, status, accepted)| r == role.as_str() && state(status, *accepted))
    };
    if chosen.iter().any(|role| held(*role, &|status, accepted| status == "suspended" && accepted)) {
        let errors = InviteErrors {
            email: Some("This person was deactivated here: reactivate them from the list instead.".into()),
            ..InviteErrors::default()
        };
        let page = render(&tx, None, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let new: Vec<StaffRole> = chosen
        .iter()
        .copied()
        .filter(|role| !held(*role, &|status, _| status == "active" || status == "invited"))
        .collect();
    if new.is_empty() {
        let errors = InviteErrors {
            email: Some("This person already has (or is invited to) every role chosen. To send the link again, use \u{201c}Resend\u{201d} in the list.".into()),
            ..InviteErrors::default()
        };
        let page = render(&tx, None, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    {
        let mut db = tx.conn().await?;
        for role in &new {
            repo::invite(
                &mut db,
                context.organization_id,
                person,
                *role,
                context.user_id,
                &form.display_name,
            )
            .await?;
        }
    }
    send_invitation(&state, &tx, person, &email, now).await?;
    let mut event = AuditEvent::new(Action::InvitationSent, Outcome::Success).resource("user", person);
    event.details = json!({ "roles": new.iter().map(|r| r.as_str()).collect::<Vec<_>>() });
    tx.audit(&event).await?;
    let notice = Some(format!("Invitation sent to {}.", form.email));
    Ok(Page(render(&tx, notice, InviteForm::default(), InviteErrors::default()).await?).into_response())
}

/// Mails `person` one link for every role they are invited to here (any earlier link to
/// this clinic stops working), queued with this request's transaction.
async fn send_invitation(
    state: &AppState,
    tx: &TenantTx,
    person: UserId,
    email: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let context = tx.context().tenant.clone();
    let mut db = tx.conn().await?;
    let roles: Vec<StaffRole> =
        repo::invited_roles(&mut db, person).await?.iter().filter_map(|r| StaffRole::parse(r)).collect();
    repo::revoke_invitations(&mut db, person, now).await?;
    let labels = roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ");
    let clinic = repo::clinic_name(&mut db, context.organization_id).await?;
    let inviter = match context.user_id {
        Some(me) => repo::user_name(&mut db, me).await?,
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
            email,
            user_id: Some(person),
            organization_id: Some(context.organization_id),
            payload: json!({ "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(), "role_labels": labels }),
            created_by: context.user_id,
        },
        now,
        |link| {
            StaffInvitation { inviter, clinic, roles: labels.clone(), link: link.url, expires: link.expires }
                .render(email)
        },
    )
    .await?;
    Ok(())
}

/// An invitation not accepted yet, by its membership (404 otherwise, like any object of
/// another clinic).
async fn open_invitation(tx: &TenantTx, id: &str) -> AppResult<repo::Member> {
    let id = membership(id)?;
    match repo::find(&mut *tx.conn().await?, id).await? {
        Some(member) if member.status == "invited" => Ok(member),
        _ => Err(tx.not_found("membership", id.as_uuid()).await),
    }
}

/// `POST /members/{id}/resend`: a new link for an invitation not accepted yet (the old
/// one stops working).
pub async fn resend(
    State(state): State<AppState>,
    tx: TenantTx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let member = open_invitation(&tx, &id).await?;
    send_invitation(&state, &tx, member.user_id, &member.email, tx.now()).await?;
    let mut event =
        AuditEvent::new(Action::InvitationSent, Outcome::Success).resource("user", member.user_id);
    event.details = json!({ "resent": true });
    tx.audit(&event).await?;
    let notice = Some(format!("Invitation sent again to {}.", member.email));
    Ok(Page(render(&tx, notice, InviteForm::default(), InviteErrors::default()).await?).into_response())
}

/// `POST /members/{id}/cancel-invitation`: the invitation ends and leaves the list; its
/// link stops working once no other role is waiting for the person.
pub async fn cancel_invitation(_: SteppedUp, tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let member = open_invitation(&tx, &id).await?;
    let me = tx.context().tenant.user_id;
    {
        let mut db = tx.conn().await?;
        if !repo::set_status(&mut db, member.id, "suspended", me, &["invited"]).await? {
            drop(db);
            return Err(tx.not_found("membership", member.id.as_uuid()).await);
        }
        if repo::invited_roles(&mut db, member.user_id).await?.is_empty() {
            repo::revoke_invitations(&mut db, member.user_id, tx.now()).await?;
        }
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "membership", member.id)
            .details(json!({ "invitation": "cancelled" })),
    )
    .await?;
    let notice = Some(format!("Invitation to {} cancelled.", member.email));
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
    let exists = repo::exists(&mut *tx.conn().await?, id).await?;
    if !exists {
        return Err(tx.not_found("membership", id.as_uuid()).await);
    }
    // Nobody changes their own role (a second administrator does).
    let me = tx.context().tenant.user_id;
    let changed = repo::change_role(&mut *tx.conn().await?, id, role, me).await?;
    let notice = if changed {
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
/// active membership; reactivating only restores a suspended one (an invitation becomes
/// active only when the invited person accepts it; cancelling one is its own action).
async fn set_status(tx: TenantTx, id: String, from: &[&str], status: &'static str) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let id = membership(&id)?;
    let me = tx.context().tenant.user_id;
    // Administrators cannot lock themselves out, and only a membership someone once
    // accepted comes back: a cancelled invitation stays cancelled.
    let changed = repo::set_status(&mut *tx.conn().await?, id, status, me, from).await?;
    if !changed {
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
    set_status(tx, id, &["active"], "suspended").await
}

pub async fn reactivate(_: SteppedUp, tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    set_status(tx, id, &["suspended"], "active").await
}
