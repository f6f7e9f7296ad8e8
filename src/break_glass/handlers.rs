use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use tower_sessions::Session;
use uuid::Uuid;

use super::domain::{self, Purpose};
use super::repo::{self, NewGrant};
use super::views::{
    AskErrors, AskForm, GrantLine, LogPage, PlatformPage, QueuePage, QueueQuery, ReviewForm, StaffPage,
};
use crate::audit::{self, Action, AuditEvent, Outcome};
use crate::auth::emails::BreakGlassAlert;
use crate::auth::policy::PlatformRole;
use crate::auth::session::ContextClaim;
use crate::auth::signin;
use crate::db::errors::lacks_privilege;
use crate::db::ids::{OrganizationId, PatientId, UserId};
use crate::db::tenant::{BreakGlass, TenantContext, scoped};
use crate::web::authenticate::Authenticated;
use crate::web::context::claim_role;
use crate::web::{AppError, AppResult, AppState, Page, StepUp, SystemTx, TenantTx, parse_form};

fn when(at: DateTime<Utc>) -> String {
    at.format("%b %-d, %Y %H:%M UTC").to_string()
}

fn purposes() -> Vec<(&'static str, &'static str)> {
    Purpose::ALL.map(|p| (p.as_str(), p.label())).to_vec()
}

/// The purpose and reason of `form`, or the mistakes next to their fields.
fn checked(form: &AskForm, errors: &mut AskErrors) -> Option<(Purpose, String)> {
    let purpose = Purpose::parse(&form.purpose);
    if purpose.is_none() {
        errors.purpose = Some("Choose why you need this record.".into());
    }
    let reason = domain::reason(&form.reason).map_err(|e| errors.reason = Some(e.into())).ok();
    purpose.zip(reason)
}

/// Tells the clinic's privacy officers (or administrators): who, when, until when and
/// why in general terms, and a link; never the patient. Queued in the caller's
/// transaction, so it goes exactly when the grant is committed.
async fn alert(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    to: &[String],
    alert: &BreakGlassAlert,
    now: DateTime<Utc>,
) -> AppResult<()> {
    for address in to {
        let message = alert.render(address).map_err(AppError::from)?;
        crate::notify::jobs::queue_account_email(&mut *conn, &state.notifier, &message, now).await?;
    }
    Ok(())
}

fn link(state: &AppState) -> String {
    format!("{}/settings/emergency-access", state.config.http.public_url.as_str().trim_end_matches('/'))
}

// ---- a super admin, from the platform console -----------------------------------------

async fn platform_render(
    tx: &mut SystemTx,
    form: AskForm,
    errors: AskErrors,
    notice: Option<String>,
) -> AppResult<PlatformPage> {
    let clinics = repo::active_clinics(tx.conn().await?)
        .await?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    Ok(PlatformPage { clinics, purposes: purposes(), form, errors, notice })
}

pub async fn platform_page(mut tx: SystemTx) -> AppResult<Page<PlatformPage>> {
    let page = platform_render(&mut tx, AskForm::default(), AskErrors::default(), None).await?;
    tx.commit().await?;
    Ok(Page(page))
}

/// `POST /platform/break-glass`: one patient (by record number) of one clinic, with a
/// purpose and a reason, after a proof of identity from the last five minutes. The
/// session moves (with a new id) into a context for that chart alone.
pub async fn platform_start(
    State(state): State<AppState>,
    session: Session,
    step_up: StepUp,
    mut tx: SystemTx,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    if let Some(refusal) = step_up.refusal_returning_to("/platform/break-glass") {
        return Ok(refusal);
    }
    let me = tx.user().ok_or(AppError::Unauthorized)?;
    let form: AskForm = parse_form(&body)?;
    let mut errors = AskErrors::default();
    let clinics = repo::active_clinics(tx.conn().await?).await?;
    let clinic = form.clinic.parse::<OrganizationId>().ok().filter(|id| clinics.iter().any(|(c, _)| c == id));
    if clinic.is_none() {
        errors.clinic = Some("Choose the clinic whose patient it is.".into());
    }
    let mrn = form.mrn.trim().to_owned();
    if mrn.is_empty() || mrn.chars().count() > 40 {
        errors.mrn = Some("Enter the patient's record number (MRN), as the clinic gave it.".into());
    }
    let asked = checked(&form, &mut errors);
    let (Some(clinic), Some((purpose, reason)), false) = (clinic, asked, errors.any()) else {
        let page = platform_render(&mut tx, form, errors, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };
    let now = tx.now();
    let request = tx.request().clone();
    let role = Some(PlatformRole::SuperAdmin.as_str().to_owned());
    let context = TenantContext::person_in(clinic, me, role, request.clone());
    let conn = tx.conn().await?;
    let opened = scoped(&mut *conn, &context, async |conn| {
        let Some(patient) = repo::patient_by_mrn(conn, &mrn).await? else { return Ok(None) };
        let (name, minutes) = repo::clinic(conn, clinic).await?;
        let expires_at = now + domain::duration(minutes);
        let grant = NewGrant {
            organization_id: clinic,
            patient_id: patient,
            user_id: me,
            via: "platform",
            role: PlatformRole::SuperAdmin.as_str(),
            purpose: purpose.as_str(),
            reason: &reason,
            started_at: now,
            expires_at,
        };
        let id = repo::start(conn, &grant).await?;
        let under = TenantContext {
            break_glass: Some(BreakGlass { patient_id: patient, expires_at }),
            ..context.clone()
        };
        let event = AuditEvent::new(Action::BreakGlassStarted, Outcome::Success)
            .resource("break_glass_grant", id)
            .patient(patient)
            .purpose(purpose.as_str())
            .details(json!({ "via": "platform", "expires_at": expires_at }));
        audit::record(conn, &under, &event).await?;
        Ok(Some((patient, expires_at, name, repo::recipients(conn).await?)))
    })
    .await?;
    let Some((patient, expires_at, clinic_name, recipients)) = opened else {
        // Recorded: a record number that names nobody is an attempt worth seeing.
        tx.audit(
            &AuditEvent::denied("patient", None, "break_glass_no_such_patient")
                .details(json!({ "reason": "break_glass_no_such_patient", "clinic": clinic.to_string() })),
        )
        .await?;
        errors.mrn = Some("No patient of that clinic has this record number.".into());
        let page = platform_render(&mut tx, form, errors, None).await?;
        // Nothing else was written: the refusal is kept, as denials are.
        tx.commit().await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };
    let who = crate::auth::people::display_name(tx.conn().await?, me).await?;
    let message = BreakGlassAlert {
        clinic: clinic_name.clone(),
        who,
        role: PlatformRole::SuperAdmin.label().into(),
        purpose: purpose.label().into(),
        when: when(now),
        until: when(expires_at),
        link: link(&state),
    };
    alert(&state, &mut *tx.conn().await?, &recipients, &message, now).await?;
    let label = format!("Emergency access · {clinic_name} · until {}", expires_at.format("%H:%M UTC"));
    let claim = ContextClaim::BreakGlass { organization_id: clinic, patient_id: patient };
    let step = state.sign_in_step(&session, request, now);
    let outcome = signin::enter_granted(&mut *tx.conn().await?, &step, claim, label, None).await;
    let next = signin::settle(&step, outcome, tx.commit()).await?;
    Ok(Redirect::to(&next).into_response())
}

// ---- a clinic member kept out of a chart ----------------------------------------------

fn patient(id: &str) -> AppResult<PatientId> {
    id.parse().map_err(|_| AppError::NotFound)
}

async fn staff_render(
    tx: &TenantTx,
    patient_id: PatientId,
    form: AskForm,
    errors: AskErrors,
) -> AppResult<StaffPage> {
    let organization = tx.context().tenant.organization_id;
    let Some(mrn) = repo::mrn(&mut *tx.conn().await?, patient_id).await? else {
        return Err(tx.not_found("patient", patient_id.as_uuid()).await);
    };
    let (_, minutes) = repo::clinic(&mut *tx.conn().await?, organization).await?;
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", patient_id)
            .patient(patient_id)
            .purpose("break_glass.ask"),
    )
    .await?;
    Ok(StaffPage {
        patient_id: patient_id.to_string(),
        mrn,
        minutes: domain::duration(minutes).num_minutes(),
        purposes: purposes(),
        form,
        errors,
    })
}

pub async fn staff_page(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page<StaffPage>> {
    let page = staff_render(&tx, patient(&id)?, AskForm::default(), AskErrors::default()).await?;
    Ok(Page(page))
}

/// `POST /patients/{patient_id}/emergency-access`: a member's emergency access to a chart
/// "care team only" or a sensitive category keeps from them; their context stays.
pub async fn staff_start(
    State(state): State<AppState>,
    step_up: StepUp,
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let patient_id = patient(&id)?;
    if let Some(refusal) = step_up.refusal_returning_to(&format!("/patients/{patient_id}/emergency-access")) {
        return Ok(refusal);
    }
    let form: AskForm = parse_form(&body)?;
    let mut errors = AskErrors::default();
    let Some((purpose, reason)) = checked(&form, &mut errors) else {
        let page = staff_render(&tx, patient_id, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    };
    let tenant = tx.context().tenant.clone();
    if tenant.acting_for.is_some() {
        // Acting as someone else is for seeing what they see, not for more.
        return Err(AppError::Forbidden);
    }
    let me = tenant.user_id.ok_or(AppError::Unauthorized)?;
    let role = tenant.role.clone().unwrap_or_default();
    let now = tx.now();
    if repo::mrn(&mut *tx.conn().await?, patient_id).await?.is_none() {
        return Err(tx.not_found("patient", patient_id.as_uuid()).await);
    }
    let (clinic_name, minutes) = repo::clinic(&mut *tx.conn().await?, tenant.organization_id).await?;
    let expires_at = now + domain::duration(minutes);
    let grant = NewGrant {
        organization_id: tenant.organization_id,
        patient_id,
        user_id: me,
        via: "staff",
        role: &role,
        purpose: purpose.as_str(),
        reason: &reason,
        started_at: now,
        expires_at,
    };
    let id = repo::start(&mut *tx.conn().await?, &grant).await?;
    let under = TenantContext { break_glass: Some(BreakGlass { patient_id, expires_at }), ..tenant.clone() };
    let event = AuditEvent::new(Action::BreakGlassStarted, Outcome::Success)
        .resource("break_glass_grant", id)
        .patient(patient_id)
        .purpose(purpose.as_str())
        .details(json!({ "via": "staff", "expires_at": expires_at }));
    audit::record(&mut *tx.conn().await?, &under, &event).await?;
    let recipients = repo::recipients(&mut *tx.conn().await?).await?;
    let who = tx.platform(async |conn| crate::auth::people::display_name(conn, me).await).await?;
    let message = BreakGlassAlert {
        clinic: clinic_name,
        who,
        role: crate::auth::policy::StaffRole::parse(&role).map_or("member", |r| r.label()).into(),
        purpose: purpose.label().into(),
        when: when(now),
        until: when(expires_at),
        link: link(&state),
    };
    alert(&state, &mut *tx.conn().await?, &recipients, &message, now).await?;
    Ok(Redirect::to(&format!("/patients/{patient_id}")).into_response())
}

// ---- ending it ---------------------------------------------------------------------------

/// `POST /break-glass/end`: ends the person's emergency access now. A super admin goes
/// back (with a new session id) to the platform console; a member stays in their clinic.
pub async fn end(
    State(state): State<AppState>,
    session: Session,
    auth: Authenticated,
    mut tx: SystemTx,
) -> AppResult<Response> {
    let (organization_id, via) = match auth.context {
        Some(ContextClaim::BreakGlass { organization_id, .. }) => (organization_id, "platform"),
        Some(ContextClaim::Staff { organization_id, .. }) => (organization_id, "staff"),
        _ => return Err(AppError::NotFound),
    };
    let now = tx.now();
    let request = tx.request().clone();
    let role = auth.context.map(|c| claim_role(&c).to_owned());
    let context = TenantContext::person_in(organization_id, auth.user_id, role, request.clone());
    let ended = scoped(&mut *tx.conn().await?, &context, async |conn| {
        let Some((id, patient)) = repo::end_live(conn, auth.user_id, via, now).await? else {
            return Ok(None);
        };
        let event = AuditEvent::new(Action::BreakGlassEnded, Outcome::Success)
            .resource("break_glass_grant", id)
            .patient(patient)
            .details(json!({ "via": via }));
        audit::record(conn, &context, &event).await?;
        Ok(Some(patient))
    })
    .await?;
    if via == "staff" {
        tx.commit().await?;
        let back = ended.map_or_else(|| "/home".to_owned(), |p| format!("/patients/{p}"));
        return Ok(Redirect::to(&back).into_response());
    }
    let step = state.sign_in_step(&session, request, now);
    let claim = ContextClaim::Platform { role: PlatformRole::SuperAdmin };
    let outcome = signin::enter(&mut *tx.conn().await?, &step, claim).await;
    let next = signin::settle(&step, outcome, tx.commit()).await?;
    Ok(Redirect::to(&next).into_response())
}

// ---- the clinic's log and the review queue ------------------------------------------------

fn lines(grants: Vec<repo::Grant>, names: &HashMap<UserId, String>, now: DateTime<Utc>) -> Vec<GrantLine> {
    grants
        .into_iter()
        .map(|g| {
            let over = g.ended_at.is_some() || g.expires_at <= now;
            let who = names.get(&g.user_id).cloned().unwrap_or_else(|| g.user_id.to_string());
            let role = match g.via.as_str() {
                "platform" => PlatformRole::SuperAdmin.label(),
                _ => crate::auth::policy::StaffRole::parse(&g.role).map_or("member", |r| r.label()),
            };
            GrantLine {
                clinic_id: g.organization_id.to_string(),
                id: g.id.to_string(),
                clinic: g.clinic,
                mrn: g.mrn,
                who: format!("{who} ({role})"),
                purpose: Purpose::parse(&g.purpose).map_or("", Purpose::label).to_owned(),
                reason: g.reason,
                period: match g.ended_at {
                    Some(ended) => format!("{} to {} (ended early)", when(g.started_at), when(ended)),
                    None if over => format!("{} to {}", when(g.started_at), when(g.expires_at)),
                    None => format!("{} until {} (open now)", when(g.started_at), when(g.expires_at)),
                },
                reads: g.reads,
                over,
                review: g.finding.as_deref().and_then(domain::finding_label).map(|finding| {
                    let at = g.reviewed_at.map(when).unwrap_or_default();
                    match g.review_note {
                        Some(note) if !note.is_empty() => format!("{finding} ({at}): {note}"),
                        _ => format!("{finding} ({at})"),
                    }
                }),
            }
        })
        .collect()
}

/// `GET /settings/emergency-access`: the clinic's break-glass grants, for its
/// administrators (identifiers and reasons, never clinical content).
pub async fn clinic_log(tx: TenantTx) -> AppResult<Page<LogPage>> {
    let grants = repo::clinic_grants(&mut *tx.conn().await?).await?;
    let users: Vec<Uuid> = grants.iter().map(|g| g.user_id.as_uuid()).collect();
    // Platform staff are no members: their names are read outside the clinic.
    let names: HashMap<_, _> =
        tx.platform(async |conn| repo::names(conn, &users).await).await?.into_iter().collect();
    let mut shown = Vec::new();
    for grant in &grants {
        if !shown.contains(&grant.patient_id) {
            shown.push(grant.patient_id);
            tx.audit(
                &AuditEvent::success(Action::Read, "patient", grant.patient_id)
                    .patient(grant.patient_id)
                    .purpose("break_glass.log"),
            )
            .await?;
        }
    }
    Ok(Page(LogPage { grants: lines(grants, &names, tx.now()) }))
}

async fn queue_render(
    tx: &mut SystemTx,
    include_reviewed: bool,
    notice: Option<String>,
) -> AppResult<QueuePage> {
    let now = tx.now();
    let conn = tx.conn().await?;
    let grants = match repo::queue(&mut *conn, include_reviewed).await {
        Ok(grants) => grants,
        Err(error) if lacks_privilege(&error) => return Err(AppError::Forbidden),
        Err(error) => return Err(error.into()),
    };
    let users: Vec<Uuid> = grants.iter().map(|g| g.user_id.as_uuid()).collect();
    let names: HashMap<_, _> = repo::names(&mut *conn, &users).await?.into_iter().collect();
    let shown = grants.len();
    let page = QueuePage { grants: lines(grants, &names, now), include_reviewed, notice };
    // Identifiers (record numbers) were shown: on record in the platform chain.
    tx.audit(
        &AuditEvent::success(Action::Read, "break_glass_grant", Uuid::nil())
            .purpose("break_glass.queue")
            .details(json!({ "grants": shown })),
    )
    .await?;
    Ok(page)
}

/// `GET /compliance/break-glass`: every clinic's grants awaiting review (`?all=1`: all).
pub async fn queue(mut tx: SystemTx, Query(query): Query<QueueQuery>) -> AppResult<Page<QueuePage>> {
    let page = queue_render(&mut tx, !query.all.is_empty(), None).await?;
    tx.commit().await?;
    Ok(Page(page))
}

/// `POST /compliance/break-glass/{organization_id}/{grant_id}/review`: closes a grant's
/// review with a finding (and a note); once it is over, by an auditor other than the
/// person who used it.
pub async fn review(
    mut tx: SystemTx,
    Path((clinic, grant)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let clinic: OrganizationId = clinic.parse().map_err(|_| AppError::NotFound)?;
    let grant: Uuid = grant.parse().map_err(|_| AppError::NotFound)?;
    let form: ReviewForm = parse_form(&body)?;
    let note = form.note.trim();
    if domain::finding_label(&form.finding).is_none() || note.chars().count() > 2000 {
        let page = queue_render(
            &mut tx,
            false,
            Some("Choose a finding (and keep the note under 2,000 characters).".into()),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let now = tx.now();
    let note = (!note.is_empty()).then_some(note);
    let done = match repo::review(tx.conn().await?, clinic, grant, &form.finding, note, now).await {
        Ok(done) => done,
        Err(error) if lacks_privilege(&error) => return Err(AppError::Forbidden),
        Err(error) => return Err(error.into()),
    };
    if !done {
        let notice =
            "That emergency access is not awaiting review: it is still open, reviewed already, or your own.";
        let page = queue_render(&mut tx, false, Some(notice.into())).await?;
        return Ok((StatusCode::CONFLICT, Page(page)).into_response());
    }
    tx.audit(
        &AuditEvent::new(Action::BreakGlassReviewed, Outcome::Success)
            .resource("break_glass_grant", grant)
            .details(json!({ "clinic": clinic.to_string(), "finding": form.finding })),
    )
    .await?;
    let page = queue_render(&mut tx, false, Some("Review recorded.".into())).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}
