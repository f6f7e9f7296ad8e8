use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::repo;
use super::views::{ApprovalRow, InviteErrors, InviteForm, MemberRow, MembersPage, PendingRow, RequestForm};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::emails::StaffInvitation;
use crate::auth::policy::{Permission, StaffRole, Target};
use crate::auth::tokens::{self, NewToken, Purpose};
use crate::db::ids::{MemberApprovalId, MembershipId, UserId};
use crate::web::{AppError, AppResult, AppState, Page, SteppedUp, TenantTx, parse_form};

fn roles() -> Vec<(&'static str, &'static str)> {
    StaffRole::ALL.iter().map(|r| (r.as_str(), r.label())).collect()
}

async fn render(
    tx: &TenantTx,
    notice: Option<String>,
    form: InviteForm,
    errors: InviteErrors,
) -> AppResult<MembersPage> {
    let me = tx.context().tenant.person();
    let org = tx.context().tenant.organization_id;
    let mut db = tx.conn().await?;
    let clinic = repo::clinic_name(&mut db, org).await?;
    let members = repo::members(&mut db).await?;
    let pending = repo::pending_invitations(&mut db).await?;
    let approvals = repo::pending_approvals(&mut db).await?;
    Ok(MembersPage {
        approvals: approvals
            .into_iter()
            .map(|a| ApprovalRow {
                id: a.id.to_string(),
                mine: Some(a.requested_by) == me,
                asks: match a.role.as_deref().and_then(StaffRole::parse) {
                    Some(role) => format!("the {} role here as well", role.label()),
                    None => "a reset of their own second factor".to_owned(),
                },
                requester: a.requester,
                reason: a.reason,
                requested: a.requested_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect(),
        request: RequestForm::default(),
        request_error: None,
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
                is_privacy_officer: m.is_privacy_officer,
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
    let me = tx.context().tenant.person();
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
    let form: RoleForm = parse_form(&body)?;
    let id = membership(&id)?;
    let role = StaffRole::parse(&form.role)
        .ok_or_else(|| AppError::BadRequest("Choose a role from the list.".into()))?;
    // Another clinic's membership (or none) is not found, like any other object.
    let Some(before) = repo::find(&mut *tx.conn().await?, id).await? else {
        return Err(tx.not_found("membership", id.as_uuid()).await);
    };
    // Nobody changes their own role (a second administrator does).
    let me = tx.context().tenant.person();
    let changed = repo::change_role(&mut *tx.conn().await?, id, role, me).await?;
    let notice = if changed {
        tx.audit(&AuditEvent::success(Action::Update, "membership", id).details(json!({
            "before": { "role": before.role }, "after": { "role": role.as_str() },
        })))
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
    let me = tx.context().tenant.person();
    // Administrators cannot lock themselves out, and only a membership someone once
    // accepted comes back: a cancelled invitation stays cancelled.
    let before = repo::find(&mut *tx.conn().await?, id).await?.map(|m| m.status);
    let changed = repo::set_status(&mut *tx.conn().await?, id, status, me, from).await?;
    if !changed {
        return Err(tx.not_found("membership", id.as_uuid()).await);
    }
    tx.audit(&AuditEvent::success(Action::Update, "membership", id).details(json!({
        "before": { "status": before }, "after": { "status": status },
    })))
    .await?;
    let notice = if status == "active" {
        "Member reactivated."
    } else {
        "Member deactivated: their access here ends now."
    };
    Ok(Page(render(&tx, Some(notice.into()), InviteForm::default(), InviteErrors::default()).await?)
        .into_response())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct PrivacyOfficerForm {
    on: String,
}

/// `POST /members/{membership_id}/privacy-officer`: names (`on=1`) or unnames an active
/// member as a privacy officer, told of every emergency access to the clinic's records
/// (where nobody is named, the administrators are).
pub async fn privacy_officer(
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let id = membership(&id)?;
    let form: PrivacyOfficerForm = parse_form(&body)?;
    let on = !form.on.is_empty();
    let Some(member) = repo::find(&mut *tx.conn().await?, id).await? else {
        return Err(tx.not_found("membership", id.as_uuid()).await);
    };
    if !repo::set_privacy_officer(&mut *tx.conn().await?, id, on).await? {
        let notice =
            format!("{} is not an active member: only an active member is told.", member.display_name);
        return answer(&tx, StatusCode::UNPROCESSABLE_ENTITY, notice).await;
    }
    tx.audit(&AuditEvent::success(Action::Update, "membership", id).details(json!({
        "before": { "is_privacy_officer": member.is_privacy_officer }, "after": { "is_privacy_officer": on },
    })))
    .await?;
    let notice = if on {
        format!("{} is a privacy officer: they are told of every emergency access.", member.display_name)
    } else {
        format!("{} is no longer a privacy officer.", member.display_name)
    };
    Ok(Page(render(&tx, Some(notice), InviteForm::default(), InviteErrors::default()).await?).into_response())
}

pub async fn deactivate(_: SteppedUp, tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    set_status(tx, id, &["active"], "suspended").await
}

pub async fn reactivate(_: SteppedUp, tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    set_status(tx, id, &["suspended"], "active").await
}

// ---- the two-person rule and second-factor resets ----------------------------------------

/// Answers with the members page and a message, at `status` (a refusal rolls back).
async fn answer(tx: &TenantTx, status: StatusCode, notice: String) -> AppResult<Response> {
    let page = render(tx, Some(notice), InviteForm::default(), InviteErrors::default()).await?;
    Ok((status, Page(page)).into_response())
}

/// `POST /members/{membership_id}/reset-factor`: another member lost their phone or
/// passkey. Their factors go and their sessions end; at their next sign-in they set up a
/// new one (staff must). An administrator's own reset is asked for instead, and another
/// administrator approves it.
pub async fn reset_factor(
    _: SteppedUp,
    State(state): State<AppState>,
    tx: TenantTx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "membership").await?;
    let id = membership(&id)?;
    let Some(member) = repo::find(&mut *tx.conn().await?, id).await? else {
        return Err(tx.not_found("membership", id.as_uuid()).await);
    };
    if Some(member.user_id) == tx.context().tenant.person() {
        let notice = "You cannot reset your own second factor. Ask for it under \u{201c}Changes for yourself\u{201d}: \
                      another administrator approves it.";
        return answer(&tx, StatusCode::UNPROCESSABLE_ENTITY, notice.into()).await;
    }
    if member.status == "invited" {
        let notice = format!(
            "{} has not joined yet: they set up their second factor when they accept.",
            member.display_name
        );
        return answer(&tx, StatusCode::UNPROCESSABLE_ENTITY, notice).await;
    }
    match reset_for(&state, &tx, member.user_id, &member.display_name).await? {
        Some(page) => Ok(page),
        None => elsewhere(&tx, &member.display_name).await,
    }
}

/// The refusal for a person whose factors are not this clinic's alone to reset (409: the
/// request changes nothing).
async fn elsewhere(tx: &TenantTx, name: &str) -> AppResult<Response> {
    let notice = format!(
        "Not reset: {name} also works at another clinic, uses the patient portal or helps run the platform. \
         Platform support resets their second factor."
    );
    answer(tx, StatusCode::CONFLICT, notice).await
}

/// Resets `person`'s second factor, tells them by e-mail and records it: the page to
/// answer with, or None when the person is not this clinic's alone.
async fn reset_for(
    state: &AppState,
    tx: &TenantTx,
    person: UserId,
    name: &str,
) -> AppResult<Option<Response>> {
    let now = tx.now();
    let Some(removed) = repo::reset_second_factor(&mut *tx.conn().await?, person).await? else {
        return Ok(None);
    };
    crate::auth::notices::tell(
        &mut *tx.conn().await?,
        &state.notifier,
        person,
        "Your second factor (authenticator app and passkeys) was reset by an administrator of your clinic, and \
         you were signed out everywhere. At your next sign-in you set up a new one. If you did not ask for \
         this, tell your clinic at once.",
        now,
    )
    .await?;
    tx.audit(
        &AuditEvent::success(Action::MfaRemoved, "user", person.as_uuid())
            .purpose("second_factor_reset")
            .details(json!({ "factors_removed": removed, "sessions": "ended" })),
    )
    .await?;
    let notice = format!(
        "{name}\u{2019}s second factor is reset and their sessions ended: they set up a new factor at their next \
         sign-in."
    );
    Ok(Some(answer(tx, StatusCode::OK, notice).await?))
}

/// `POST /members/requests`: an administrator asks for what they may not do for
/// themselves (another role here, or the reset of their own second factor), with a reason
/// the approving administrator reads.
pub async fn request(_: SteppedUp, tx: TenantTx, body: axum::body::Bytes) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "member_approval").await?;
    let form: RequestForm = parse_form(&body)?;
    let me = tx.context().tenant.person().ok_or(AppError::Internal)?;
    let clinic = tx.context().tenant.organization_id;
    let role = StaffRole::parse(&form.role);
    let reason = form.reason.trim().to_owned();
    let problem = match form.kind.as_str() {
        "own_role" if role.is_none() => Some("Choose the role you need."),
        "own_role" | "own_factor_reset" if reason.is_empty() || reason.chars().count() > 300 => {
            Some("Say why, in up to 300 characters: the administrator who decides reads it.")
        }
        "own_role" | "own_factor_reset" => None,
        _ => Some("Choose what to ask for."),
    };
    let held = match role.filter(|_| form.kind == "own_role") {
        Some(role) => repo::standing(&mut *tx.conn().await?, me)
            .await?
            .iter()
            .any(|(r, status, _)| r == role.as_str() && status == "active"),
        None => false,
    };
    let problem = problem.or(held.then_some("You hold that role here already."));
    if let Some(problem) = problem {
        let mut page = render(&tx, None, InviteForm::default(), InviteErrors::default()).await?;
        page.request = form;
        page.request_error = Some(problem.to_owned());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let role = role.filter(|_| form.kind == "own_role");
    let asked = repo::request_approval(&mut *tx.conn().await?, clinic, me, &form.kind, role, &reason).await?;
    let Some(id) = asked else {
        let notice = "You asked for that already: it waits for another administrator.".to_owned();
        return answer(&tx, StatusCode::CONFLICT, notice).await;
    };
    tx.audit(
        &AuditEvent::success(Action::Create, "member_approval", id.as_uuid())
            .purpose("two_person_rule")
            .details(json!({ "kind": form.kind, "role": role.map(StaffRole::as_str) })),
    )
    .await?;
    let notice =
        "Asked. Another administrator of the clinic approves or declines it on this page.".to_owned();
    answer(&tx, StatusCode::OK, notice).await
}

fn approval(id: &str) -> AppResult<MemberApprovalId> {
    id.parse().map_err(|_| AppError::NotFound)
}

/// `POST /members/requests/{request_id}/approve`: another administrator's request is
/// carried out now, by this administrator (never by the one who asked).
pub async fn approve(
    _: SteppedUp,
    State(state): State<AppState>,
    tx: TenantTx,
    Path(id): Path<String>,
) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "member_approval").await?;
    let id = approval(&id)?;
    let me = tx.context().tenant.person().ok_or(AppError::Internal)?;
    let clinic = tx.context().tenant.organization_id;
    let decided = repo::decide(&mut *tx.conn().await?, id, me, "approved", tx.now()).await?;
    let Some(asked) = decided else {
        return Err(tx.not_found("member_approval", id.as_uuid()).await);
    };
    tx.audit(
        &AuditEvent::success(Action::Update, "member_approval", id.as_uuid())
            .purpose("two_person_rule")
            .details(json!({ "before": { "status": "pending" }, "after": { "status": "approved" },
                             "kind": &asked.kind, "role": &asked.role,
                             "requested_by": asked.requested_by.to_string() })),
    )
    .await?;
    match asked.role.as_deref().and_then(StaffRole::parse) {
        Some(role) => {
            repo::grant_role(&mut *tx.conn().await?, clinic, asked.requested_by, role, me).await?;
            tx.audit(
                &AuditEvent::success(Action::Create, "membership", asked.requested_by.as_uuid())
                    .purpose("two_person_rule")
                    .details(json!({ "role": role.as_str(), "approval": id.to_string() })),
            )
            .await?;
            let notice =
                format!("Approved: {} now has the {} role here as well.", asked.requester, role.label());
            answer(&tx, StatusCode::OK, notice).await
        }
        None => match reset_for(&state, &tx, asked.requested_by, &asked.requester).await? {
            Some(page) => Ok(page),
            None => elsewhere(&tx, &asked.requester).await,
        },
    }
}

/// `POST /members/requests/{request_id}/decline`.
pub async fn decline(tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "member_approval").await?;
    let id = approval(&id)?;
    let me = tx.context().tenant.person().ok_or(AppError::Internal)?;
    let Some(asked) = repo::decide(&mut *tx.conn().await?, id, me, "declined", tx.now()).await? else {
        return Err(tx.not_found("member_approval", id.as_uuid()).await);
    };
    tx.audit(
        &AuditEvent::success(Action::Update, "member_approval", id.as_uuid())
            .purpose("two_person_rule")
            .details(json!({ "before": { "status": "pending" }, "after": { "status": "declined" } })),
    )
    .await?;
    answer(&tx, StatusCode::OK, format!("Declined {}\u{2019}s request.", asked.requester)).await
}

/// `POST /members/requests/{request_id}/withdraw`: one's own request, while it waits.
pub async fn withdraw(tx: TenantTx, Path(id): Path<String>) -> AppResult<Response> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "member_approval").await?;
    let id = approval(&id)?;
    let me = tx.context().tenant.person().ok_or(AppError::Internal)?;
    if !repo::withdraw(&mut *tx.conn().await?, id, me, tx.now()).await? {
        return Err(tx.not_found("member_approval", id.as_uuid()).await);
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "member_approval", id.as_uuid())
            .purpose("two_person_rule")
            .details(json!({ "before": { "status": "pending" }, "after": { "status": "withdrawn" } })),
    )
    .await?;
    answer(&tx, StatusCode::OK, "Request withdrawn.".into()).await
}
