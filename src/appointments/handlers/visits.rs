//! The chart's appointments section (booking) and one visit: its page, moving it, and the
//! front desk's status changes.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::super::domain::{self, status_label};
use super::super::repo::{self, AppointmentRow, NewAppointment};
use super::super::views::*;
use super::{abilities, check_slot, choices, taken_message, visit};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{self, PatientFacts, Permission, Target};
use crate::auth::session::safe_return_path;
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::{AppointmentId, AppointmentTypeId, ProviderId};
use crate::web::{AppError, AppResult, Framed, Page, TenantTx, parse_form};

// ---- the chart's appointments section --------------------------------------------------

async fn render_section(
    tx: &TenantTx,
    chart: &Chart,
    notice: Option<String>,
) -> AppResult<AppointmentsSection> {
    let (_, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let rows = {
        let mut db = tx.conn().await?;
        repo::for_patient(&mut db, chart.id(), tx.context().tenant.person()).await?
    };
    let can = abilities(tx);
    let now = tx.now();
    let (mut upcoming, past): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.ends_at >= now);
    upcoming.reverse();
    let can_book = chart.allows(tx, Permission::ManageSchedule);
    Ok(AppointmentsSection {
        patient_id: chart.id().to_string(),
        return_to: format!("/patients/{}/appointments", chart.id()),
        notice,
        upcoming: upcoming.into_iter().map(|r| visit(r, viewer, now, can)).collect(),
        past: past.into_iter().map(|r| visit(r, viewer, now, can)).collect(),
        can_book,
        choices: choices(tx, viewer).await?,
        form: BookingForm {
            date: now.with_timezone(&viewer).format("%Y-%m-%d").to_string(),
            ..BookingForm::default()
        },
        errors: BookingErrors::default(),
        slot_kind: String::new(),
        slot_provider: String::new(),
        slots: None,
        slot_error: None,
        prefilled: false,
    })
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct SlotQuery {
    type_id: String,
    /// Empty: any provider.
    provider_id: String,
}

/// The next free slots for a visit of `kind` (with `provider`, or any): day by day on the
/// clinic's clock from now, each day one read of when the providers are busy (here and
/// at any other clinic they work at), until enough are found or the days run out.
async fn find_slots(
    tx: &TenantTx,
    kind: AppointmentTypeId,
    provider: Option<ProviderId>,
) -> AppResult<Vec<(DateTime<Utc>, ProviderId, String)>> {
    let clinic = tx.context().clinic_timezone;
    let now = tx.now();
    let mut db = tx.conn().await?;
    let Some(minutes) = repo::types(&mut db)
        .await?
        .into_iter()
        .find(|t| t.id == kind && t.is_active)
        .map(|t| i64::from(t.duration_minutes))
    else {
        return Ok(Vec::new());
    };
    let providers: Vec<_> = repo::providers(&mut db)
        .await?
        .into_iter()
        .filter(|p| provider.is_none_or(|id| p.id == id))
        .collect();
    let hours = repo::all_hours(&mut db).await?;
    let today = now.with_timezone(&clinic).date_naive();
    let mut found = Vec::new();
    for offset in 0..domain::FINDER_DAYS {
        let day = today + chrono::Duration::days(offset);
        let (from, to) = domain::day_bounds(clinic, day);
        let busy = repo::busy_times(&mut db, from, to, provider, None).await?;
        let mut on_day = Vec::new();
        for p in &providers {
            let own_hours: Vec<domain::Hours> = hours
                .iter()
                .filter(|h| h.provider_id == p.id)
                .map(|h| domain::Hours { weekday: h.weekday, starts: h.starts, ends: h.ends })
                .collect();
            let own_busy: Vec<_> =
                busy.iter().filter(|b| b.provider_id == p.id).map(|b| (b.starts_at, b.ends_at)).collect();
            let name = format!("{}, {}", p.name, p.credentials);
            for start in domain::free_starts(clinic, &own_hours, day, minutes, now, &own_busy) {
                on_day.push((start, p.id, name.clone()));
            }
        }
        on_day.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
        found.extend(on_day.into_iter().take(domain::FINDER_SLOTS - found.len()));
        if found.len() >= domain::FINDER_SLOTS {
            break;
        }
    }
    Ok(found)
}

/// The slot finder in the chart's appointments section: the next ten free slots for a
/// kind of visit, with one provider or any, each booked with one click.
pub async fn free_slots(
    tx: TenantTx,
    Path(id): Path<String>,
    Query(query): Query<SlotQuery>,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::ManageSchedule).await?;
    let viewer = tx.context().timezone;
    let mut section = render_section(&tx, &chart, None).await?;
    match query.type_id.parse::<AppointmentTypeId>() {
        Err(_) => section.slot_error = Some("Choose the kind of visit."),
        Ok(kind) => {
            let provider = query.provider_id.parse::<ProviderId>().ok();
            let found = find_slots(&tx, kind, provider).await?;
            section.slots = Some(
                found
                    .into_iter()
                    .map(|(starts_at, provider_id, provider_name)| {
                        let local = starts_at.with_timezone(&viewer);
                        SlotRow {
                            provider_id: provider_id.to_string(),
                            label: format!("{} with {}", local.format("%a %Y-%m-%d %H:%M"), provider_name),
                            provider_name,
                            date: local.format("%Y-%m-%d").to_string(),
                            time: local.format("%H:%M").to_string(),
                        }
                    })
                    .collect(),
            );
        }
    }
    section.slot_kind = query.type_id;
    section.slot_provider = query.provider_id;
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", chart.id())
            .patient(chart.id())
            .purpose("chart.appointments"),
    )
    .await?;
    Ok(Framed(chart.frame(crate::appointments::SECTION), section).into_response())
}

/// A booking begun on the schedule's grid (an empty slot, then the patient): the form
/// comes filled in with the slot's provider, date and time.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct Prefill {
    provider_id: String,
    date: String,
    time: String,
}

pub async fn section(
    tx: TenantTx,
    Path(id): Path<String>,
    Query(prefill): Query<Prefill>,
) -> AppResult<Framed<ChartFrame, AppointmentsSection>> {
    let chart = chart::open(&tx, &id, Permission::ViewSchedule).await?;
    let mut section = render_section(&tx, &chart, None).await?;
    if section.can_book {
        // Only what reads as a provider, a date and a time; the booking checks it all again.
        if section.choices.providers.iter().any(|(p, _)| *p == prefill.provider_id) {
            section.form.provider_id = prefill.provider_id;
        }
        if let Some(date) = domain::parse_date(&prefill.date) {
            section.form.date = date.to_string();
        }
        if let Some(time) = domain::parse_time(&prefill.time) {
            section.form.time = time.format("%H:%M").to_string();
            section.prefilled = true;
        }
    }
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", chart.id())
            .patient(chart.id())
            .purpose("chart.appointments"),
    )
    .await?;
    Ok(Framed(chart.frame(crate::appointments::SECTION), section))
}

pub async fn book(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::ManageSchedule).await?;
    let form: BookingForm = parse_form(&body)?;
    let (clinic, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let mut errors = BookingErrors::default();
    let slot = check_slot(&tx, &form, clinic, viewer, &mut errors).await?;
    let mut taken = false;
    let booked = match slot {
        Some(slot) => {
            let reason = form.reason.trim();
            let new = NewAppointment {
                patient: chart.id(),
                provider: slot.provider,
                appointment_type: slot.appointment_type,
                starts_at: slot.starts_at,
                ends_at: slot.ends_at,
                reason: (!reason.is_empty()).then_some(reason),
                booked_by: tx.context().tenant.person(),
                sensitive: !form.sensitive.is_empty(),
            };
            let mut db = tx.conn().await?;
            match repo::insert(&mut db, tx.context().tenant.organization_id, &new).await? {
                Ok(id) => Some((id, slot.starts_at)),
                Err(crate::db::errors::Refused) => {
                    errors.slot = Some(taken_message(slot.starts_at, viewer));
                    taken = true;
                    None
                }
            }
        }
        None => None,
    };
    let Some((appointment, starts_at)) = booked else {
        let mut section = render_section(&tx, &chart, None).await?;
        let status = if taken { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
        section.form = form;
        section.errors = errors;
        return Ok((status, Framed(chart.frame(crate::appointments::SECTION), section)).into_response());
    };
    tx.audit(
        &AuditEvent::success(Action::Create, "appointment", appointment)
            .patient(chart.id())
            .purpose("scheduling")
            .details(json!({ "outside_hours": !form.outside_hours.is_empty() })),
    )
    .await?;
    let notice = format!("Booked for {}.", starts_at.with_timezone(&viewer).format("%a %Y-%m-%d %H:%M %Z"));
    let section = render_section(&tx, &chart, Some(notice)).await?;
    Ok(Framed(chart.frame(crate::appointments::SECTION), section).into_response())
}

// ---- one appointment ------------------------------------------------------------------------

/// The appointment, visible and permitted for `permission` on its patient.
async fn appointment(tx: &TenantTx, id: &str, permission: Permission) -> AppResult<AppointmentRow> {
    let id: AppointmentId = id.parse().map_err(|_| AppError::NotFound)?;
    let row = {
        let mut db = tx.conn().await?;
        repo::find(&mut db, id, tx.context().tenant.person()).await?
    };
    let Some(row) = row else { return Err(tx.not_found("appointment", id.as_uuid()).await) };
    let facts = PatientFacts { patient_id: row.patient_id, on_care_team: false, sensitive: false };
    tx.authorize(permission, Target::Patient(facts), "appointment").await?;
    Ok(row)
}

fn event(row: &AppointmentRow, action: Action, purpose: &str) -> AuditEvent {
    AuditEvent::success(action, "appointment", row.id).patient(row.patient_id).purpose(purpose.to_owned())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct ReturnQuery {
    return_to: String,
}

async fn render_detail(
    tx: &TenantTx,
    row: AppointmentRow,
    form: Option<BookingForm>,
    errors: BookingErrors,
    notice: Option<String>,
    return_to: String,
) -> AppResult<DetailPage> {
    let (_, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let now = tx.now();
    let can = abilities(tx);
    let start = row.starts_at.with_timezone(&viewer);
    let form = form.unwrap_or_else(|| BookingForm {
        provider_id: row.provider_id.to_string(),
        date: start.format("%Y-%m-%d").to_string(),
        time: start.format("%H:%M").to_string(),
        ..BookingForm::default()
    });
    let can_reschedule = can.manage && row.status == "booked";
    let can_write_note =
        policy::grants(tx.context().principal, Permission::WriteNote) && row.status != "cancelled";
    Ok(DetailPage {
        can_write_note,
        visit: visit(row, viewer, now, can),
        can_reschedule,
        choices: choices(tx, viewer).await?,
        form,
        errors,
        notice,
        return_to,
        cancel: CancelForm::default(),
        cancel_error: None,
    })
}

fn return_path(text: &str, row: &AppointmentRow) -> String {
    safe_return_path(text).unwrap_or_else(|| format!("/appointments/{}", row.id))
}

pub async fn detail(
    tx: TenantTx,
    Path(id): Path<String>,
    Query(query): Query<ReturnQuery>,
) -> AppResult<Page<DetailPage>> {
    let row = appointment(&tx, &id, Permission::ViewSchedule).await?;
    tx.audit(&event(&row, Action::Read, "scheduling")).await?;
    let return_to = return_path(&query.return_to, &row);
    Ok(Page(render_detail(&tx, row, None, BookingErrors::default(), None, return_to).await?))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct ActionForm {
    return_to: String,
    reason: String,
}

/// A status change from the listed states, then back to where the person was.
async fn change_status(
    tx: TenantTx,
    id: String,
    body: axum::body::Bytes,
    to: &str,
    from: &[&str],
    check: impl FnOnce(&AppointmentRow, DateTime<Utc>) -> Result<(), &'static str>,
) -> AppResult<Response> {
    let row = appointment(&tx, &id, Permission::ManageSchedule).await?;
    let form: ActionForm = parse_form(&body)?;
    if let Err(message) = check(&row, tx.now()) {
        return Err(AppError::BadRequest(message.into()));
    }
    let reason = form.reason.trim();
    if reason.chars().count() > 200 {
        return Err(AppError::BadRequest("Keep the cancellation reason under 200 characters.".into()));
    }
    let changed = {
        let mut db = tx.conn().await?;
        repo::set_status(
            &mut db,
            row.id,
            to,
            from,
            tx.context().tenant.person(),
            (!reason.is_empty()).then_some(reason),
            tx.now(),
        )
        .await?
    };
    if !changed {
        return Err(AppError::BadRequest(format!(
            "This appointment is {} now, so it cannot be changed that way. Reload to see it.",
            status_label(&row.status).to_lowercase()
        )));
    }
    tx.audit(&event(&row, Action::Update, "scheduling").details(json!({ "status": to, "from": row.status })))
        .await?;
    Ok(Redirect::to(&return_path(&form.return_to, &row)).into_response())
}

pub async fn check_in(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    change_status(tx, id, body, "checked_in", &["booked"], |_, _| Ok(())).await
}

pub async fn complete(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    change_status(tx, id, body, "completed", &["checked_in"], |_, _| Ok(())).await
}

pub async fn no_show(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    change_status(tx, id, body, "no_show", &["booked"], |row, now| {
        if row.starts_at > now {
            Err("A patient can be marked as a no-show only after the appointment's start time.")
        } else {
            Ok(())
        }
    })
    .await
}

/// Cancels a booked visit once the person ticked "yes, cancel it"; without the tick, or
/// with a reason too long, the page comes back with the reason as typed and why.
pub async fn cancel(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let row = appointment(&tx, &id, Permission::ManageSchedule).await?;
    let form: CancelForm = parse_form(&body)?;
    let problem = if form.reason.trim().chars().count() > 200 {
        Some("Keep the reason under 200 characters.")
    } else if form.confirm.is_empty() {
        Some("Tick \u{201c}Yes, cancel this appointment\u{201d} to cancel it.")
    } else {
        None
    };
    if let Some(message) = problem {
        // The page shows the visit again: on record as the first showing was.
        tx.audit(&event(&row, Action::Read, "scheduling")).await?;
        let return_to = return_path(&form.return_to, &row);
        let mut page = render_detail(&tx, row, None, BookingErrors::default(), None, return_to).await?;
        page.cancel_error = Some(message.to_owned());
        page.cancel = form;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    change_status(tx, id, body, "cancelled", &["booked"], |_, _| Ok(())).await
}

/// Takes back a check-in made today (the wrong patient checked in, or too early): the
/// visit is booked again. Only on the visit's own day, in the clinic's time.
pub async fn undo_check_in(
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let zone = tx.context().clinic_timezone;
    change_status(tx, id, body, "booked", &["checked_in"], move |row, now| {
        if row.starts_at.with_timezone(&zone).date_naive() == now.with_timezone(&zone).date_naive() {
            Ok(())
        } else {
            Err("A check-in can be taken back only on the day of the visit.")
        }
    })
    .await
}

pub async fn reschedule(
    tx: TenantTx,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let row = appointment(&tx, &id, Permission::ManageSchedule).await?;
    let mut form: BookingForm = parse_form(&body)?;
    if row.status != "booked" {
        return Err(AppError::BadRequest("Only a booked appointment can be moved.".into()));
    }
    let (clinic, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    // The kind stays; its duration is kept as booked.
    let type_id = repo::type_of(&mut *tx.conn().await?, row.id).await?;
    form.type_id = type_id.to_string();
    let mut errors = BookingErrors::default();
    let return_to = return_path(&form.return_to, &row);
    let slot = check_slot(&tx, &form, clinic, viewer, &mut errors).await?;
    let mut taken = false;
    if let Some(slot) = &slot {
        let duration = row.ends_at - row.starts_at;
        let moved = {
            let mut db = tx.conn().await?;
            repo::reschedule(&mut db, row.id, slot.provider, slot.starts_at, slot.starts_at + duration)
                .await?
        };
        match moved {
            Ok(()) => {
                tx.audit(&event(&row, Action::Update, "scheduling").details(json!({ "rescheduled": true })))
                    .await?;
                return Ok(Redirect::to(&return_to).into_response());
            }
            Err(crate::db::errors::Refused) => {
                errors.slot = Some(taken_message(slot.starts_at, viewer));
                taken = true;
            }
        }
    }
    tx.audit(&event(&row, Action::Read, "scheduling")).await?;
    let status = if taken { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = render_detail(&tx, row, Some(form), errors, None, return_to).await?;
    Ok((status, Page(page)).into_response())
}
