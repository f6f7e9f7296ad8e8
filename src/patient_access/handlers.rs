use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use serde_json::json;

use super::repo;
use super::views::{AccessPage, ProxyErrors, ProxyForm, ProxyRow};
use crate::audit::{Action, AuditEvent};
use crate::auth::emails::{PatientInvitation, ProxyInvitation};
use crate::auth::people;
use crate::auth::policy::{Permission, Principal, StaffRole};
use crate::auth::tokens::{self, NewToken, Purpose};
use crate::chart::{self, Chart, ChartFrame};
use crate::contact_info::normalize_email;
use crate::db::ids::{ProxyAssignmentId, UserId};
use crate::web::{AppError, AppResult, AppState, Framed, StepUp, TenantTx};

type Section = Framed<ChartFrame, AccessPage>;

const RELATIONSHIPS: [(&str, &str); 5] = [
    ("parent", "Parent"),
    ("guardian", "Legal guardian"),
    ("poa", "Power of attorney"),
    ("spouse", "Spouse or partner"),
    ("other", "Other"),
];

/// The chart, checked visible and permitted for `permission` (404 otherwise, audited
/// either way).
async fn patient(tx: &TenantTx, id: &str, permission: Permission) -> AppResult<(Chart, String)> {
    let chart = chart::open(tx, id, permission).await?;
    let name = chart.header.display_name();
    Ok((chart, name))
}

async fn render(
    tx: &TenantTx,
    chart: &Chart,
    name: String,
    notice: Option<String>,
    portal: (String, Option<String>),
    proxy_form: ProxyForm,
    proxy_errors: ProxyErrors,
) -> AppResult<AccessPage> {
    let patient = chart.id();
    let mut db = tx.conn().await?;
    let portal_email = repo::portal_email(&mut db, patient).await?;
    let proxies = repo::grants(&mut db, patient).await?;
    Ok(AccessPage {
        patient_id: patient.to_string(),
        patient_name: name,
        notice,
        portal_email,
        portal_form_email: portal.0,
        portal_error: portal.1,
        proxies: proxies
            .into_iter()
            .map(|p| {
                let scopes: Vec<&str> = [
                    (p.can_view_clinical, "clinical"),
                    (p.can_view_billing, "billing"),
                    (p.can_schedule, "scheduling"),
                    (p.can_message, "messages"),
                ]
                .into_iter()
                .filter_map(|(on, label)| on.then_some(label))
                .collect();
                ProxyRow {
                    id: p.id.to_string(),
                    name: p.display_name,
                    email: p.email,
                    relationship: RELATIONSHIPS
                        .iter()
                        .find(|(v, _)| *v == p.relationship)
                        .map_or("Other", |(_, l)| l)
                        .to_owned(),
                    scopes: if scopes.is_empty() { "no access yet".into() } else { scopes.join(", ") },
                    expires: p.expires_at.map(|e| e.format("%Y-%m-%d").to_string()),
                    status: p.status,
                    clinical: p.can_view_clinical,
                    billing: p.can_view_billing,
                    scheduling: p.can_schedule,
                    messaging: p.can_message,
                    proof_note: p.proof_note,
                    messages_safe: p.messages_safe,
                }
            })
            .collect(),
        relationships: RELATIONSHIPS.to_vec(),
        proxy_form,
        proxy_errors,
        can_manage: chart.allows(tx, Permission::ManageProxies),
        can_set_safety: chart.allows(tx, Permission::EditContactSafety),
        row_error: None,
    })
}

fn empty_proxy_form() -> ProxyForm {
    ProxyForm { relationship: "parent".into(), ..ProxyForm::default() }
}

pub async fn page(tx: TenantTx, Path(id): Path<String>) -> AppResult<Section> {
    let (chart, name) = patient(&tx, &id, Permission::ViewProxies).await?;
    let patient = chart.id();
    tx.audit(&AuditEvent::success(Action::Read, "patient", patient).patient(patient).purpose("chart.access"))
        .await?;
    let page =
        render(&tx, &chart, name, None, (String::new(), None), empty_proxy_form(), ProxyErrors::default())
            .await?;
    Ok(Framed(chart.frame(crate::patient_access::SECTION), page))
}

#[derive(serde::Deserialize)]
pub(crate) struct PortalForm {
    email: String,
}

pub(crate) async fn invite_patient(
    State(state): State<AppState>,
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let (chart, name) = patient(&tx, &id, Permission::ManageProxies).await?;
    let patient = chart.id();
    let form: PortalForm = crate::web::parse_form(&body)?;
    let typed = form.email.trim().to_owned();
    let context = tx.context().tenant.clone();
    let now = tx.now();
    let has_account = repo::has_portal_account(&mut *tx.conn().await?, patient).await?;
    // A chart has one portal account, and staff never invite themselves into a chart
    // (it would make them its patient: messages, consent, everything the portal shows).
    let invited = match normalize_email(&typed) {
        Err(problem) => Err(problem),
        Ok(_) if has_account => Err("This patient already has a portal account."),
        Ok(email) if is_own_address(&tx, &email).await? => Err("You cannot invite yourself."),
        Ok(email) => {
            let person = tx.platform(async |conn| people::find_or_create(conn, &email, &name).await).await?;
            if Some(person) == context.user_id {
                Err("You cannot invite yourself.")
            } else {
                Ok((email, person))
            }
        }
    };
    let (email, person) = match invited {
        Ok(invited) => invited,
        Err(problem) => {
            let page = render(
                &tx,
                &chart,
                name,
                None,
                (typed, Some(problem.into())),
                empty_proxy_form(),
                ProxyErrors::default(),
            )
            .await?;
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Framed(chart.frame(crate::patient_access::SECTION), page),
            )
                .into_response());
        }
    };
    // Sent by the queue once this request commits; if it fails, nothing is sent.
    tokens::mail_link(
        &mut *tx.conn().await?,
        &state.notifier,
        &state.config.http.public_url,
        "invite/",
        NewToken {
            purpose: Purpose::PatientActivation,
            email: &email,
            user_id: Some(person),
            organization_id: Some(context.organization_id),
            payload: json!({ "patient_id": patient.as_uuid().to_string() }),
            created_by: context.user_id,
        },
        now,
        |link| PatientInvitation { link: link.url, expires: link.expires }.render(&email),
    )
    .await?;
    tx.audit(
        &AuditEvent::success(Action::InvitationSent, "patient", patient)
            .patient(patient)
            .purpose("portal_activation"),
    )
    .await?;
    let page = render(
        &tx,
        &chart,
        name,
        Some(format!("Portal invitation sent to {email}.")),
        (String::new(), None),
        empty_proxy_form(),
        ProxyErrors::default(),
    )
    .await?;
    Ok(Framed(chart.frame(crate::patient_access::SECTION), page).into_response())
}

fn parse_proxy_form(body: &[u8]) -> ProxyForm {
    let mut form = ProxyForm::default();
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "display_name" => form.display_name = value.trim().to_owned(),
            "email" => form.email = value.trim().to_owned(),
            "relationship" => form.relationship = value.into_owned(),
            "clinical" => form.clinical = true,
            "billing" => form.billing = true,
            "scheduling" => form.scheduling = true,
            "messaging" => form.messaging = true,
            "expires_on" => form.expires_on = value.trim().to_owned(),
            "proof_note" => form.proof_note = value.trim().to_owned(),
            "messages_safe" => form.messages_safe = true,
            _ => {}
        }
    }
    form
}

/// Why the asking person may not grant these scopes, if they may not. Scheduling, billing
/// and messages send the patient's reminders and messages to the proxy, so granting them
/// is deciding where messages go: the contact-safety permission's, not every role's that
/// manages access (a nurse grants clinical access only).
const MESSAGE_SCOPES_NEED_SAFETY: &str = "Scheduling, billing and messages send the patient's reminders and messages to this person, so only staff who decide where messages may go can grant them. Ask the front desk.";

const CLINICAL_GRANTS_BY_PROVIDERS: &str =
    "This clinic lets only providers give a proxy access to clinical records. Ask the patient's provider.";

/// Why the asking person may not give clinical access here, if the clinic keeps that to
/// providers and they are not one.
async fn clinical_grant_refusal(tx: &TenantTx, adds_clinical: bool) -> AppResult<Option<String>> {
    if !adds_clinical || matches!(tx.context().principal, Principal::Staff(StaffRole::Provider)) {
        return Ok(None);
    }
    let only = repo::clinical_grants_by_providers_only(&mut *tx.conn().await?).await?;
    Ok(only.then(|| CLINICAL_GRANTS_BY_PROVIDERS.to_owned()))
}

/// Whether `email` reaches the asking person's own mailbox (their sign-in address, with
/// or without a +tag or Gmail's dots): staff never make themselves a patient's portal
/// user or proxy, under any of their addresses.
async fn is_own_address(tx: &TenantTx, email: &str) -> AppResult<bool> {
    let Some(me) = tx.context().tenant.person() else { return Ok(false) };
    Ok(people::is_own_mailbox(&mut *tx.conn().await?, me, email).await?)
}

/// The day access ends (midnight UTC), if any; it must be in the future.
fn parse_expiry(text: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, &'static str> {
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Utc.from_utc_datetime(&d))
        .filter(|d| *d > now)
        .map(Some)
        .ok_or("Enter a date in the future, or leave it empty.")
}

pub(crate) async fn invite_proxy(
    State(state): State<AppState>,
    step_up: StepUp,
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let (chart, name) = patient(&tx, &id, Permission::ManageProxies).await?;
    let patient = chart.id();
    let mut form = parse_proxy_form(&body);
    let now = tx.now();
    let expires = parse_expiry(&form.expires_on, now);
    let can_set_safety = chart.allows(&tx, Permission::EditContactSafety);
    let clinical_refused = clinical_grant_refusal(&tx, form.clinical).await?;
    let own_address = match normalize_email(&form.email) {
        Ok(email) => is_own_address(&tx, &email).await?,
        Err(_) => false,
    };
    let errors = ProxyErrors {
        name: (form.display_name.is_empty() || form.display_name.chars().count() > 200)
            .then(|| "Enter their name.".into()),
        scopes: ((form.billing || form.scheduling || form.messaging) && !can_set_safety)
            .then(|| MESSAGE_SCOPES_NEED_SAFETY.into())
            .or(clinical_refused),
        email: if own_address {
            Some("You cannot invite yourself.".into())
        } else {
            normalize_email(&form.email).err().map(str::to_owned)
        },
        expires: expires.as_ref().err().map(|e| (*e).to_owned()),
        proof: (form.proof_note.chars().count() > 300).then(|| "Keep the note under 300 characters.".into()),
    };
    let relationship = RELATIONSHIPS.iter().find(|(v, _)| *v == form.relationship).map(|(v, _)| *v);
    if errors.name.is_some()
        || errors.scopes.is_some()
        || errors.email.is_some()
        || errors.expires.is_some()
        || errors.proof.is_some()
        || relationship.is_none()
    {
        let page = render(&tx, &chart, name, None, (String::new(), None), form, errors).await?;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Framed(chart.frame(crate::patient_access::SECTION), page),
        )
            .into_response());
    }
    // Confirming that messages may go to this person decides where they go: a recent proof
    // of identity first (nothing is written yet).
    if can_set_safety
        && form.messages_safe
        && let Some(response) = step_up.refusal()
    {
        return Ok(response);
    }
    let expires = expires.ok().flatten();
    let context = tx.context().tenant.clone();
    form.email = normalize_email(&form.email).map_err(|e| AppError::BadRequest(e.into()))?;
    let person: UserId =
        tx.platform(async |conn| people::find_or_create(conn, &form.email, &form.display_name).await).await?;
    // Staff never make themselves a chart's proxy (the patient's messages and reminders
    // would follow): not under their account (checked here), nor another address of theirs
    // (checked above).
    if Some(person) == context.user_id {
        let errors =
            ProxyErrors { email: Some("You cannot invite yourself.".into()), ..ProxyErrors::default() };
        let page = render(&tx, &chart, name, None, (String::new(), None), form, errors).await?;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Framed(chart.frame(crate::patient_access::SECTION), page),
        )
            .into_response());
    }
    let assignment = {
        let mut db = tx.conn().await?;
        let grant = repo::NewGrant {
            clinic: context.organization_id,
            patient,
            proxy: person,
            relationship: relationship.unwrap_or("other"),
            clinical: form.clinical,
            billing: form.billing,
            scheduling: form.scheduling,
            messaging: form.messaging,
            starts_at: now,
            expires_at: expires,
            granted_by: context.user_id,
            proof_note: (!form.proof_note.is_empty()).then_some(form.proof_note.as_str()),
            invited_name: &form.display_name,
            messages_safe: can_set_safety && form.messages_safe,
            email: &form.email,
        };
        let assignment = repo::create_grant(&mut db, &grant).await?;
        let Some(assignment) = assignment else {
            drop(db);
            let errors = ProxyErrors {
                email: Some("This person already has access (or an invitation) for this patient.".into()),
                ..ProxyErrors::default()
            };
            let page = render(&tx, &chart, name, None, (String::new(), None), form, errors).await?;
            return Ok((StatusCode::CONFLICT, Framed(chart.frame(crate::patient_access::SECTION), page))
                .into_response());
        };
        // Sent by the queue once this request commits; if it fails, nothing is sent.
        tokens::mail_link(
            &mut db,
            &state.notifier,
            &state.config.http.public_url,
            "invite/",
            NewToken {
                purpose: Purpose::ProxyInvitation,
                email: &form.email,
                user_id: Some(person),
                organization_id: Some(context.organization_id),
                payload: json!({ "assignment_id": assignment.as_uuid().to_string() }),
                created_by: context.user_id,
            },
            now,
            |link| ProxyInvitation { link: link.url, expires: link.expires }.render(&form.email),
        )
        .await?;
        assignment
    };
    tx.audit(
        &AuditEvent::success(Action::Create, "proxy_assignment", assignment)
            .patient(patient)
            .purpose("proxy_grant")
            .details(json!({ "messages_safe": can_set_safety && form.messages_safe })),
    )
    .await?;
    let page = render(
        &tx,
        &chart,
        name,
        Some(format!("Invitation sent to {}.", form.email)),
        (String::new(), None),
        empty_proxy_form(),
        ProxyErrors::default(),
    )
    .await?;
    Ok(Framed(chart.frame(crate::patient_access::SECTION), page).into_response())
}

pub(crate) async fn revoke_proxy(
    tx: TenantTx,
    Path((id, assignment)): Path<(String, String)>,
) -> AppResult<Response> {
    let (chart, name) = patient(&tx, &id, Permission::ManageProxies).await?;
    let patient = chart.id();
    let assignment: ProxyAssignmentId = assignment.parse().map_err(|_| AppError::NotFound)?;
    let by = tx.context().tenant.person();
    let revoked = repo::revoke(&mut *tx.conn().await?, assignment, patient, by).await?;
    if !revoked {
        return Err(tx.not_found("proxy_assignment", assignment.as_uuid()).await);
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "proxy_assignment", assignment)
            .patient(patient)
            .purpose("proxy_revoke"),
    )
    .await?;
    let page = render(
        &tx,
        &chart,
        name,
        Some("Access revoked. It ends on their next request.".into()),
        (String::new(), None),
        empty_proxy_form(),
        ProxyErrors::default(),
    )
    .await?;
    Ok(Framed(chart.frame(crate::patient_access::SECTION), page).into_response())
}

/// Changes an existing grant's scopes, relationship, end date or proof note. Like a
/// revoke, it holds from the proxy's very next request (the grant is read on each one).
pub(crate) async fn update_proxy(
    step_up: StepUp,
    tx: TenantTx,
    Path((id, assignment)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let (chart, name) = patient(&tx, &id, Permission::ManageProxies).await?;
    let patient = chart.id();
    let assignment: ProxyAssignmentId = assignment.parse().map_err(|_| AppError::NotFound)?;
    let current = repo::message_scopes(&mut *tx.conn().await?, assignment, patient).await?;
    let Some(current) = current else {
        return Err(tx.not_found("proxy_assignment", assignment.as_uuid()).await);
    };
    let form = parse_proxy_form(&body);
    let can_set_safety = chart.allows(&tx, Permission::EditContactSafety);
    // Without the contact-safety permission, scopes that carry messages may be taken away
    // but not given.
    let adds_message_scope = (form.billing && !current.can_view_billing)
        || (form.scheduling && !current.can_schedule)
        || (form.messaging && !current.can_message);
    let expires = parse_expiry(&form.expires_on, tx.now());
    let relationship = RELATIONSHIPS.iter().find(|(v, _)| *v == form.relationship).map(|(v, _)| *v);
    let clinical_refused = clinical_grant_refusal(&tx, form.clinical && !current.can_view_clinical).await?;
    let problem = match (&expires, relationship) {
        _ if adds_message_scope && !can_set_safety => Some(MESSAGE_SCOPES_NEED_SAFETY.to_owned()),
        _ if clinical_refused.is_some() => clinical_refused,
        (Err(message), _) => Some((*message).to_owned()),
        (_, None) => Some("Choose the relationship.".to_owned()),
        _ if form.proof_note.chars().count() > 300 => Some("Keep the note under 300 characters.".to_owned()),
        _ => None,
    };
    if can_set_safety
        && form.messages_safe
        && !current.confirmed
        && let Some(response) = step_up.refusal()
    {
        return Ok(response);
    }
    if let Some(message) = problem {
        let mut page = render(
            &tx,
            &chart,
            name,
            None,
            (String::new(), None),
            empty_proxy_form(),
            ProxyErrors::default(),
        )
        .await?;
        page.row_error = Some((assignment.to_string(), message));
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Framed(chart.frame(crate::patient_access::SECTION), page),
        )
            .into_response());
    }
    let change = repo::GrantChange {
        relationship: relationship.unwrap_or("other"),
        clinical: form.clinical,
        billing: form.billing,
        scheduling: form.scheduling,
        messaging: form.messaging,
        expires_at: expires.ok().flatten(),
        proof_note: (!form.proof_note.is_empty()).then_some(form.proof_note.as_str()),
        may_set_safety: can_set_safety,
        messages_safe: form.messages_safe,
        at: tx.now(),
        by: tx.context().tenant.person(),
    };
    let updated = repo::change(&mut *tx.conn().await?, assignment, patient, &change).await?;
    if !updated {
        return Err(tx.not_found("proxy_assignment", assignment.as_uuid()).await);
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "proxy_assignment", assignment)
            .patient(patient)
            .purpose("proxy_scopes")
            .details(json!({
                "clinical": form.clinical, "billing": form.billing,
                "scheduling": form.scheduling, "messaging": form.messaging,
                "expires": !form.expires_on.is_empty(),
                "messages_safe": can_set_safety.then_some(form.messages_safe),
            })),
    )
    .await?;
    let (chart, name) = self::patient(&tx, &id, Permission::ManageProxies).await?;
    let page = render(
        &tx,
        &chart,
        name,
        Some("Access changed. It applies from their next request.".into()),
        (String::new(), None),
        empty_proxy_form(),
        ProxyErrors::default(),
    )
    .await?;
    Ok(Framed(chart.frame(crate::patient_access::SECTION), page).into_response())
}
