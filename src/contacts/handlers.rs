use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{self, FLAGS, flag_applies, kind_label};
use super::repo::{self, ContactRecord, ContactWrite};
use super::views::{ContactErrors, ContactForm, ContactRow, ContactsSection, MessageRow};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::ContactMethodId;
use crate::web::{AppError, AppResult, Framed, StepUp, SteppedUp, TenantTx, parse_form};

type Section = Framed<ChartFrame, ContactsSection>;

fn row(record: ContactRecord, chart: &Chart) -> ContactRow {
    let flags = FLAGS
        .iter()
        .filter(|f| flag_applies(&record.kind, f.field))
        .map(|f| {
            let on = match f.field {
                "safe_voicemail" => record.is_safe_for_voicemail,
                "safe_sms" => record.is_safe_for_sms,
                "safe_email" => record.is_safe_for_email,
                _ => record.is_confidential,
            };
            (f.label, on)
        })
        .collect();
    ContactRow {
        id: record.id.to_string(),
        kind: kind_label(&record.kind),
        value: domain::display(&record.kind, &record.value),
        label: record.label,
        is_primary: record.is_primary,
        flags,
        verified: record.verified_at.map(|at| chart.local(at)),
    }
}

/// The purposes a patient may choose a channel for, with their labels.
const PURPOSES: [(&str, &str); 3] = [
    ("appointments", "Appointment reminders"),
    ("billing", "Billing notices"),
    ("messages", "New portal messages"),
];

fn message_row(record: repo::MessageRecord, chart: &Chart) -> MessageRow {
    let what = match (record.template.as_str(), record.lead_hours, record.subject_at) {
        ("appointment_reminder", Some(lead), Some(at)) => {
            format!("Reminder ({lead} h before) of the visit on {}", chart.local(at))
        }
        (template, _, _) => template.replace('_', " "),
    };
    let status_label = match record.status.as_str() {
        "sent" => "Sent",
        "blocked" => "Blocked",
        "pending" => "Waiting",
        "failed" => "Failed, retrying",
        _ => "Withdrawn",
    };
    let how = record.channel.as_deref().and_then(crate::notify::Channel::parse).map(|c| {
        let to = if record.via_proxy { " to a proxy" } else { "" };
        format!("{}{to}", c.label())
    });
    MessageRow {
        when: chart.local(record.created_at),
        what,
        status: record.status,
        status_label,
        how,
        reason: record.block_reason,
    }
}

async fn render(tx: &TenantTx, chart: &Chart) -> AppResult<ContactsSection> {
    let (records, messages, preferences) = {
        let mut db = tx.conn().await?;
        (
            repo::list(&mut db, chart.id()).await?,
            repo::recent_messages(&mut db, chart.id()).await?,
            repo::preferences(&mut db, chart.id()).await?,
        )
    };
    let mut section =
        ContactsSection::new(chart.id().to_string(), records.into_iter().map(|r| row(r, chart)).collect());
    section.messages = messages.into_iter().map(|m| message_row(m, chart)).collect();
    section.preferences = PURPOSES
        .iter()
        .map(|(purpose, label)| {
            let chosen =
                preferences.iter().find(|(p, _)| p == purpose).map(|(_, c)| c.clone()).unwrap_or_default();
            (*purpose, *label, chosen)
        })
        .collect();
    section.can_edit = chart.allows(tx, Permission::EditContacts);
    section.can_edit_safety = chart.allows(tx, Permission::EditContactSafety);
    section.confidential = chart.header.confidential_communication;
    Ok(section)
}

fn audit(chart: &Chart, action: Action, contact: Option<ContactMethodId>) -> AuditEvent {
    let mut event = match contact {
        Some(id) => AuditEvent::success(action, "contact_method", id),
        None => AuditEvent::success(action, "patient", chart.id()),
    };
    event = event.patient(chart.id()).purpose("chart.contacts");
    event
}

pub async fn section(tx: TenantTx, Path(id): Path<String>) -> AppResult<Section> {
    let chart = chart::open(&tx, &id, Permission::ViewContacts).await?;
    let section = render(&tx, &chart).await?;
    tx.audit(&audit(&chart, Action::Read, None)).await?;
    Ok(Framed(chart.frame(crate::contacts::SECTION), section))
}

/// Validates a contact form into what to write; `None` with the errors filled in.
fn validate<'a>(
    form: &'a ContactForm,
    may_set_flags: bool,
    errors: &mut ContactErrors,
) -> Option<(String, ContactWrite<'a>)> {
    if !domain::KINDS.iter().any(|(k, _)| *k == form.kind) {
        errors.kind = Some("Choose what kind of contact this is.".into());
        return None;
    }
    let value = match domain::normalize(&form.kind, &form.value) {
        Ok(value) => value,
        Err(message) => {
            errors.value = Some(message.into());
            return None;
        }
    };
    let label = form.label.trim();
    if label.chars().count() > 100 {
        errors.label = Some("The label can be at most 100 characters.".into());
        return None;
    }
    // Flags that cannot apply to the kind are dropped; a role that may not decide
    // safety sends none (any it sends are ignored).
    let flags = may_set_flags.then(|| {
        (
            form.flag("safe_voicemail") && flag_applies(&form.kind, "safe_voicemail"),
            form.flag("safe_sms") && flag_applies(&form.kind, "safe_sms"),
            form.flag("safe_email") && flag_applies(&form.kind, "safe_email"),
            form.flag("confidential"),
        )
    });
    let write = ContactWrite {
        kind: &form.kind,
        value: "",
        label: (!label.is_empty()).then_some(label),
        is_primary: !form.is_primary.is_empty(),
        flags,
    };
    Some((value, write))
}

async fn invalid(
    tx: &TenantTx,
    chart: &Chart,
    form: ContactForm,
    errors: ContactErrors,
    editing: Option<String>,
) -> AppResult<Response> {
    let mut section = render(tx, chart).await?;
    section.form = form;
    section.errors = errors;
    section.editing = editing;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Framed(chart.frame(crate::contacts::SECTION), section))
        .into_response())
}

pub async fn add(
    step_up: StepUp,
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let form: ContactForm = parse_form(&body)?;
    let mut errors = ContactErrors::default();
    let may_set_flags = chart.allows(&tx, Permission::EditContactSafety);
    let Some((value, mut write)) = validate(&form, may_set_flags, &mut errors) else {
        return invalid(&tx, &chart, form, errors, None).await;
    };
    write.value = &value;
    // A new contact marked safe for anything decides where messages may go: a recent
    // proof of identity first.
    if write
        .flags
        .is_some_and(|(voicemail, sms, email, confidential)| voicemail || sms || email || confidential)
        && let Some(response) = step_up.refusal()
    {
        return Ok(response);
    }
    let duplicate = {
        let mut db = tx.conn().await?;
        repo::already_on_file(&mut db, chart.id(), &value, None).await?
    };
    if duplicate {
        errors.value = Some("This is already on file for the patient. Edit that contact instead.".into());
        return invalid(&tx, &chart, form, errors, None).await;
    }
    let contact = {
        let mut db = tx.conn().await?;
        repo::insert(&mut db, tx.context().tenant.organization_id, chart.id(), &write).await?
    };
    let mut event = audit(&chart, Action::Create, Some(contact));
    event.details = json!({ "kind": form.kind, "flags_set": write.flags.is_some() });
    tx.audit(&event).await?;
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let mut section = render(&tx, &chart).await?;
    section.notice = Some(format!("{} added.", kind_label(&form.kind)));
    Ok(Framed(chart.frame(crate::contacts::SECTION), section).into_response())
}

async fn contact(tx: &TenantTx, chart: &Chart, contact_id: &str) -> AppResult<ContactRecord> {
    let id: ContactMethodId = contact_id.parse().map_err(|_| AppError::NotFound)?;
    let found = {
        let mut db = tx.conn().await?;
        repo::find(&mut db, chart.id(), id).await?
    };
    match found {
        Some(record) => Ok(record),
        None => Err(tx.not_found("contact_method", id.as_uuid()).await),
    }
}

pub async fn edit(tx: TenantTx, Path((id, contact_id)): Path<(String, String)>) -> AppResult<Section> {
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let record = contact(&tx, &chart, &contact_id).await?;
    let mut section = render(&tx, &chart).await?;
    let on = |b: bool| if b { "1".to_owned() } else { String::new() };
    section.form = ContactForm {
        kind: record.kind.clone(),
        value: domain::display(&record.kind, &record.value),
        label: record.label.clone().unwrap_or_default(),
        is_primary: on(record.is_primary),
        safe_voicemail: on(record.is_safe_for_voicemail),
        safe_sms: on(record.is_safe_for_sms),
        safe_email: on(record.is_safe_for_email),
        confidential: on(record.is_confidential),
    };
    section.editing = Some(record.id.to_string());
    tx.audit(&audit(&chart, Action::Read, Some(record.id))).await?;
    Ok(Framed(chart.frame(crate::contacts::SECTION), section))
}

pub async fn update(
    step_up: StepUp,
    tx: TenantTx,
    Path((id, contact_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let record = contact(&tx, &chart, &contact_id).await?;
    let form: ContactForm = parse_form(&body)?;
    let mut errors = ContactErrors::default();
    let may_set_flags = chart.allows(&tx, Permission::EditContactSafety);
    let Some((value, mut write)) = validate(&form, may_set_flags, &mut errors) else {
        return invalid(&tx, &chart, form, errors, Some(record.id.to_string())).await;
    };
    write.value = &value;
    // Deciding where messages may go again is a sensitive change: a recent proof of
    // identity first (before anything is written).
    let stored = (
        record.is_safe_for_voicemail,
        record.is_safe_for_sms,
        record.is_safe_for_email,
        record.is_confidential,
    );
    if write.flags.is_some_and(|flags| flags != stored)
        && let Some(response) = step_up.refusal()
    {
        return Ok(response);
    }
    let duplicate = {
        let mut db = tx.conn().await?;
        repo::already_on_file(&mut db, chart.id(), &value, Some(record.id)).await?
    };
    if duplicate {
        errors.value = Some("This is already on file for the patient as another contact.".into());
        return invalid(&tx, &chart, form, errors, Some(record.id.to_string())).await;
    }
    {
        let mut db = tx.conn().await?;
        repo::update(&mut db, chart.id(), record.id, &write).await?;
    }
    let mut event = audit(&chart, Action::Update, Some(record.id));
    event.details = json!({ "kind": form.kind, "value_changed": value != record.value, "flags_set": write.flags.is_some() });
    tx.audit(&event).await?;
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let mut section = render(&tx, &chart).await?;
    let was_safe = record.is_safe_for_voicemail || record.is_safe_for_sms || record.is_safe_for_email;
    section.notice = Some(if value != record.value && write.flags.is_none() && was_safe {
        format!(
            "{} saved. It changed, so no automated message goes to it until a provider or the front desk marks it safe again.",
            kind_label(&form.kind)
        )
    } else {
        format!("{} saved.", kind_label(&form.kind))
    });
    Ok(Framed(chart.frame(crate::contacts::SECTION), section).into_response())
}

pub async fn verify(tx: TenantTx, Path((id, contact_id)): Path<(String, String)>) -> AppResult<Section> {
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let record = contact(&tx, &chart, &contact_id).await?;
    {
        let mut db = tx.conn().await?;
        repo::verify(&mut db, chart.id(), record.id, tx.context().tenant.person(), tx.now()).await?;
    }
    tx.audit(&audit(&chart, Action::Update, Some(record.id)).details(json!({ "verified": true }))).await?;
    let mut section = render(&tx, &chart).await?;
    section.notice = Some(format!("{} marked as confirmed with the patient.", kind_label(&record.kind)));
    Ok(Framed(chart.frame(crate::contacts::SECTION), section))
}

pub async fn remove(tx: TenantTx, Path((id, contact_id)): Path<(String, String)>) -> AppResult<Section> {
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let record = contact(&tx, &chart, &contact_id).await?;
    {
        let mut db = tx.conn().await?;
        repo::remove(&mut db, chart.id(), record.id).await?;
    }
    tx.audit(&audit(&chart, Action::Delete, Some(record.id))).await?;
    let chart = chart::open(&tx, &id, Permission::EditContacts).await?;
    let mut section = render(&tx, &chart).await?;
    section.notice = Some(format!("{} removed.", kind_label(&record.kind)));
    Ok(Framed(chart.frame(crate::contacts::SECTION), section))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct PreferenceForm {
    appointments: String,
    billing: String,
    messages: String,
}

/// `POST /patients/{id}/contacts/preferences`: the channel the patient prefers for each
/// kind of message. It orders the channels marked safe; it never makes an unsafe one usable.
pub async fn preferences(
    _: SteppedUp,
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Section> {
    let chart = chart::open(&tx, &id, Permission::EditContactSafety).await?;
    let form: PreferenceForm = parse_form(&body)?;
    let choices =
        [("appointments", &form.appointments), ("billing", &form.billing), ("messages", &form.messages)];
    for (_, channel) in &choices {
        if !channel.is_empty() && crate::notify::Channel::parse(channel).is_none() {
            return Err(AppError::BadRequest("Choose one of the listed channels. Nothing was saved.".into()));
        }
    }
    {
        let mut db = tx.conn().await?;
        let context = &tx.context().tenant;
        for (purpose, channel) in choices {
            let channel = Some(channel.as_str()).filter(|c| !c.is_empty());
            repo::set_preference(
                &mut db,
                context.organization_id,
                chart.id(),
                purpose,
                channel,
                context.user_id,
            )
            .await?;
        }
    }
    let mut event = audit(&chart, Action::Update, None);
    event.details = json!({ "preferences": { "appointments": form.appointments, "billing": form.billing, "messages": form.messages } });
    tx.audit(&event).await?;
    let mut section = render(&tx, &chart).await?;
    section.notice = Some("Message preferences saved.".into());
    Ok(Framed(chart.frame(crate::contacts::SECTION), section))
}
