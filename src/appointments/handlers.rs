use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::domain::{self, Hours, WEEKDAYS, status_label};
use super::repo::{self, AppointmentRow, NewAppointment};
use super::views::{
    AppointmentsSection, BookingErrors, BookingForm, Choices, DayColumn, DayPage, DetailPage, HoursForm,
    ProviderColumn, ProviderHours, SetupPage, TypeForm, Visit, WeekPage,
};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::policy::{self, PatientFacts, Permission, Target};
use crate::auth::session::safe_return_path;
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::{AppointmentId, AppointmentTypeId, ProviderId, WorkingHoursId};
use crate::web::{AppError, AppResult, AppState, Framed, Page, TenantTx, parse_form};

/// What the viewer may do, decided once per page.
#[derive(Clone, Copy)]
struct Abilities {
    manage: bool,
    /// The visit reason is clinical context: not for the call center.
    see_reason: bool,
}

fn abilities(tx: &TenantTx) -> Abilities {
    let principal = tx.context().principal;
    Abilities {
        manage: policy::grants(principal, Permission::ManageSchedule),
        see_reason: policy::grants(principal, Permission::ViewDemographics),
    }
}

fn visit(row: AppointmentRow, zone: Tz, now: DateTime<Utc>, can: Abilities) -> Visit {
    let start = row.starts_at.with_timezone(&zone);
    let end = row.ends_at.with_timezone(&zone);
    let today = now.with_timezone(&zone).date_naive();
    let status = row.status.as_str();
    Visit {
        id: row.id.to_string(),
        patient_id: row.patient_id.to_string(),
        patient_name: row.patient_name,
        provider_name: row.provider_name,
        type_name: row.type_name,
        date: start.format("%a %Y-%m-%d").to_string(),
        time: format!("{}\u{2013}{} {}", start.format("%H:%M"), end.format("%H:%M"), start.format("%Z")),
        status_label: status_label(status),
        reason: if can.see_reason { row.reason } else { None },
        can_check_in: can.manage && status == "booked" && start.date_naive() == today,
        can_complete: can.manage && status == "checked_in",
        can_no_show: can.manage && status == "booked" && row.starts_at <= now,
        can_cancel: can.manage && status == "booked",
        status: row.status,
    }
}

fn zone_label(zone: Tz, now: DateTime<Utc>) -> String {
    format!("{} ({})", now.with_timezone(&zone).format("%Z"), zone.name())
}

async fn choices(tx: &TenantTx, zone: Tz) -> AppResult<Choices> {
    let mut db = tx.conn().await?;
    let providers = repo::providers(&mut db).await?;
    let types = repo::types(&mut db).await?;
    Ok(Choices {
        providers: providers
            .into_iter()
            .map(|p| (p.id.to_string(), format!("{}, {}", p.name, p.credentials)))
            .collect(),
        types: types
            .into_iter()
            .filter(|t| t.is_active)
            .map(|t| (t.id.to_string(), format!("{} ({} min)", t.name, t.duration_minutes)))
            .collect(),
        zone: zone_label(zone, tx.now()),
    })
}

/// A checked booking: who, what, when.
struct Slot {
    provider: ProviderId,
    appointment_type: AppointmentTypeId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

/// Validates a booking form (typed on the viewer's clock, checked against the provider's
/// working hours on the clinic's clock). Errors land next to their fields.
async fn check_slot(
    tx: &TenantTx,
    form: &BookingForm,
    clinic: Tz,
    viewer: Tz,
    errors: &mut BookingErrors,
) -> AppResult<Option<Slot>> {
    let provider = form.provider_id.parse::<ProviderId>().ok();
    let kind = form.type_id.parse::<AppointmentTypeId>().ok();
    let (provider_ok, duration, hours) = {
        let mut db = tx.conn().await?;
        let provider_ok = match provider {
            Some(p) => repo::providers(&mut db).await?.iter().any(|o| o.id == p),
            None => false,
        };
        let duration = match kind {
            Some(k) => repo::types(&mut db)
                .await?
                .into_iter()
                .find(|t| t.id == k && t.is_active)
                .map(|t| t.duration_minutes),
            None => None,
        };
        let hours: Vec<Hours> = match provider {
            Some(p) if provider_ok => repo::hours(&mut db, p).await?,
            _ => Vec::new(),
        };
        (provider_ok, duration, hours)
    };
    if !provider_ok {
        errors.provider = Some("Choose a provider.".into());
    }
    if duration.is_none() {
        errors.kind = Some("Choose the kind of appointment.".into());
    }
    if form.reason.trim().chars().count() > 500 {
        errors.reason = Some("Keep the reason under 500 characters.".into());
    }
    let start = match (domain::parse_date(&form.date), domain::parse_time(&form.time)) {
        (None, _) => {
            errors.date = Some("Enter the date as YYYY-MM-DD.".into());
            None
        }
        (_, None) => {
            errors.time = Some("Enter the time as HH:MM (24-hour), for example 14:30.".into());
            None
        }
        (Some(date), Some(time)) => match domain::instant(viewer, date, time) {
            Ok(at) => Some(at),
            Err(problem) => {
                errors.time = Some(problem.message().into());
                None
            }
        },
    };
    let (Some(provider), Some(kind), Some(duration), Some(starts_at)) = (provider, kind, duration, start)
    else {
        return Ok(None);
    };
    if errors.any() {
        return Ok(None);
    }
    if starts_at < tx.now() {
        errors.time = Some("That time has passed. Choose a time in the future.".into());
        return Ok(None);
    }
    let ends_at = starts_at + Duration::minutes(i64::from(duration));
    if form.outside_hours.is_empty() && !domain::within_hours(clinic, &hours, starts_at, ends_at) {
        errors.slot = Some(if hours.is_empty() {
            "This provider has no working hours set up. Tick \u{201c}book outside working hours\u{201d} to book anyway.".into()
        } else {
            "That is outside the provider's working hours. Choose another time, or tick \u{201c}book outside working hours\u{201d}.".into()
        });
        return Ok(None);
    }
    Ok(Some(Slot { provider, appointment_type: kind, starts_at, ends_at }))
}

fn taken_message(starts_at: DateTime<Utc>, viewer: Tz) -> String {
    format!(
        "The provider already has an appointment overlapping {}. Choose another time.",
        starts_at.with_timezone(&viewer).format("%Y-%m-%d %H:%M %Z")
    )
}

// ---- the chart's appointments section --------------------------------------------------

async fn render_section(
    tx: &TenantTx,
    chart: &Chart,
    notice: Option<String>,
) -> AppResult<AppointmentsSection> {
    let (_, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let rows = {
        let mut db = tx.conn().await?;
        repo::for_patient(&mut db, chart.id()).await?
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
    })
}

pub async fn section(
    tx: TenantTx,
    Path(id): Path<String>,
) -> AppResult<Framed<ChartFrame, AppointmentsSection>> {
    let chart = chart::open(&tx, &id, Permission::ViewSchedule).await?;
    let section = render_section(&tx, &chart, None).await?;
    tx.audit(
        &AuditEvent::success(Action::Read, "patient", chart.id())
            .patient(chart.id())
            .purpose("chart.appointments"),
    )
    .await?;
    Ok(Framed(chart.frame("appointments"), section))
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
                booked_by: tx.context().tenant.user_id,
            };
            let mut db = tx.conn().await?;
            match repo::insert(&mut db, tx.context().tenant.organization_id, &new).await? {
                Ok(id) => Some((id, slot.starts_at)),
                Err(()) => {
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
        return Ok((status, Framed(chart.frame("appointments"), section)).into_response());
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
    Ok(Framed(chart.frame("appointments"), section).into_response())
}

// ---- schedule views -----------------------------------------------------------------------

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DayQuery {
    date: String,
}

fn hours_text(hours: &[Hours], weekday: i16) -> String {
    let blocks: Vec<String> = hours
        .iter()
        .filter(|h| h.weekday == weekday)
        .map(|h| format!("{}\u{2013}{}", h.starts.format("%H:%M"), h.ends.format("%H:%M")))
        .collect();
    if blocks.is_empty() { "not working".into() } else { blocks.join(", ") }
}

fn schedule_event(purpose: &str, details: serde_json::Value) -> AuditEvent {
    let mut event = AuditEvent::new(Action::Read, Outcome::Success);
    event.resource_type = Some("schedule");
    event.purpose = Some(purpose.to_owned());
    event.details = details;
    event
}

/// The front desk's day: every provider's appointments for one day on the viewer's clock.
/// How long one live-update stream lasts before the browser reopens it.
const STREAM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60);

/// `GET /schedule/events`: Server-Sent Events naming each appointment of this clinic that
/// changed (booked, moved, checked in, cancelled …), from any app process. The event
/// carries the appointment's id only; the page then reloads its schedule through a normal
/// request, which decides what this viewer may see.
pub async fn events(
    State(state): State<AppState>,
    tx: TenantTx,
) -> AppResult<
    axum::response::sse::Sse<
        impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
    >,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures_util::StreamExt as _;
    tx.authorize(Permission::ViewSchedule, Target::Organization, "schedule").await?;
    let organization = tx.context().tenant.organization_id;
    let changes = tokio_stream::wrappers::BroadcastStream::new(state.schedule_changes());
    let stream = changes.filter_map(move |change| async move {
        match change {
            Ok(change) if change.organization_id == organization => Some(Ok(Event::default()
                .event("schedule")
                .data(format!("{} {}", change.appointment_id, change.change)))),
            // Missed changes (a slow page): ask it to reload anyway.
            Err(_) => Some(Ok(Event::default().event("schedule").data("resync"))),
            Ok(_) => None,
        }
    });
    // The stream ends after a minute and the browser reopens it: each reopening passes
    // the session checks again (and, being a background request, does not count as
    // activity), so a page left open stops hearing changes soon after its session expires.
    let stream = stream.take_until(tokio::time::sleep(STREAM_LIFETIME));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub async fn day(tx: TenantTx, Query(query): Query<DayQuery>) -> AppResult<Page<DayPage>> {
    tx.authorize(Permission::ViewSchedule, Target::Organization, "schedule").await?;
    let (_, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let now = tx.now();
    let today = now.with_timezone(&viewer).date_naive();
    let date = domain::parse_date(&query.date).unwrap_or(today);
    let (from, to) = domain::day_bounds(viewer, date);
    let (providers, rows, all_hours) = {
        let mut db = tx.conn().await?;
        (
            repo::providers(&mut db).await?,
            repo::between(&mut db, from, to, None, None).await?,
            repo::all_hours(&mut db).await?,
        )
    };
    let can = abilities(&tx);
    let total = rows.len();
    let weekday = domain::iso_weekday(date);
    let columns = providers
        .into_iter()
        .map(|p| {
            let hours: Vec<Hours> = all_hours
                .iter()
                .filter(|h| h.provider_id == p.id)
                .map(|h| Hours { weekday: h.weekday, starts: h.starts, ends: h.ends })
                .collect();
            ProviderColumn {
                id: p.id.to_string(),
                name: format!("{}, {}", p.name, p.credentials),
                hours: hours_text(&hours, weekday),
                visits: rows
                    .iter()
                    .filter(|r| r.provider_id == p.id)
                    .cloned()
                    .map(|r| visit(r, viewer, now, can))
                    .collect(),
            }
        })
        .collect();
    tx.audit(&schedule_event("schedule.day", json!({ "date": date.to_string(), "appointments": total })))
        .await?;
    Ok(Page(DayPage {
        date: date.to_string(),
        heading: date.format("%A %-d %B %Y").to_string(),
        previous: (date - Duration::days(1)).to_string(),
        next: (date + Duration::days(1)).to_string(),
        today: today.to_string(),
        zone: zone_label(viewer, now),
        columns,
        can_configure: policy::grants(tx.context().principal, Permission::ConfigureSchedule),
        return_to: format!("/schedule?date={date}"),
        total,
    }))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct WeekQuery {
    week: String,
}

/// One provider's week.
pub async fn week(
    tx: TenantTx,
    Path(provider): Path<String>,
    Query(query): Query<WeekQuery>,
) -> AppResult<Page<WeekPage>> {
    tx.authorize(Permission::ViewSchedule, Target::Organization, "schedule").await?;
    let provider_id: ProviderId = provider.parse().map_err(|_| AppError::NotFound)?;
    let (_, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let now = tx.now();
    let today = now.with_timezone(&viewer).date_naive();
    let monday = domain::week_start(domain::parse_date(&query.week).unwrap_or(today));
    let (from, _) = domain::day_bounds(viewer, monday);
    let (to, _) = domain::day_bounds(viewer, monday + Duration::days(7));
    let (provider, rows, hours) = {
        let mut db = tx.conn().await?;
        let provider = repo::providers(&mut db).await?.into_iter().find(|p| p.id == provider_id);
        let Some(provider) = provider else {
            drop(db);
            return Err(tx.not_found("provider", provider_id.as_uuid()).await);
        };
        (
            provider,
            repo::between(&mut db, from, to, Some(provider_id), None).await?,
            repo::hours(&mut db, provider_id).await?,
        )
    };
    let can = abilities(&tx);
    let days = (0..7)
        .map(|offset| {
            let date: NaiveDate = monday + Duration::days(offset);
            DayColumn {
                heading: date.format("%a %-d %b").to_string(),
                date: date.to_string(),
                hours: hours_text(&hours, domain::iso_weekday(date)),
                visits: rows
                    .iter()
                    .filter(|r| r.starts_at.with_timezone(&viewer).date_naive() == date)
                    .cloned()
                    .map(|r| visit(r, viewer, now, can))
                    .collect(),
            }
        })
        .collect();
    tx.audit(&schedule_event(
        "schedule.week",
        json!({ "provider_id": provider_id.to_string(), "week": monday.to_string(), "appointments": rows.len() }),
    ))
    .await?;
    Ok(Page(WeekPage {
        provider_id: provider_id.to_string(),
        provider_name: format!("{}, {}", provider.name, provider.credentials),
        heading: format!("Week of {}", monday.format("%-d %B %Y")),
        previous: (monday - Duration::days(7)).to_string(),
        next: (monday + Duration::days(7)).to_string(),
        zone: zone_label(viewer, now),
        days,
        return_to: format!("/schedule/providers/{provider_id}?week={monday}"),
    }))
}

// ---- one appointment ------------------------------------------------------------------------

/// The appointment, visible and permitted for `permission` on its patient.
async fn appointment(tx: &TenantTx, id: &str, permission: Permission) -> AppResult<AppointmentRow> {
    let id: AppointmentId = id.parse().map_err(|_| AppError::NotFound)?;
    let row = {
        let mut db = tx.conn().await?;
        repo::find(&mut db, id).await?
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
pub struct ReturnQuery {
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
    Ok(DetailPage {
        visit: visit(row, viewer, now, can),
        can_reschedule,
        choices: choices(tx, viewer).await?,
        form,
        errors,
        notice,
        return_to,
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
pub struct ActionForm {
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
            tx.context().tenant.user_id,
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

pub async fn cancel(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    change_status(tx, id, body, "cancelled", &["booked"], |_, _| Ok(())).await
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
    let type_id = {
        let mut db = tx.conn().await?;
        sqlx::query_scalar!(
            r#"SELECT appointment_type_id AS "id: AppointmentTypeId" FROM appointments WHERE id = $1"#,
            row.id.as_uuid()
        )
        .fetch_one(&mut *db)
        .await?
    };
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
            Err(()) => {
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

// ---- set-up: working hours and appointment types ----------------------------------------

async fn render_setup(tx: &TenantTx, notice: Option<String>) -> AppResult<SetupPage> {
    let (clinic, _) = (tx.context().clinic_timezone, tx.context().timezone);
    let mut db = tx.conn().await?;
    let providers = repo::providers(&mut db).await?;
    let hours = repo::all_hours(&mut db).await?;
    let types = repo::types(&mut db).await?;
    Ok(SetupPage {
        notice,
        providers: providers
            .into_iter()
            .map(|p| ProviderHours {
                id: p.id.to_string(),
                name: format!("{}, {}", p.name, p.credentials),
                blocks: hours
                    .iter()
                    .filter(|h| h.provider_id == p.id)
                    .map(|h| {
                        (
                            h.id.to_string(),
                            WEEKDAYS[(h.weekday.clamp(1, 7) - 1) as usize],
                            format!("{}\u{2013}{}", h.starts.format("%H:%M"), h.ends.format("%H:%M")),
                        )
                    })
                    .collect(),
            })
            .collect(),
        types: types
            .into_iter()
            .map(|t| (t.id.to_string(), t.name, t.duration_minutes, t.is_active))
            .collect(),
        weekdays: WEEKDAYS,
        hours_form: HoursForm {
            weekday: "1".into(),
            starts: "09:00".into(),
            ends: "17:00".into(),
            ..HoursForm::default()
        },
        hours_error: None,
        type_form: TypeForm { duration_minutes: "30".into(), ..TypeForm::default() },
        type_error: None,
        zone: zone_label(clinic, tx.now()),
    })
}

pub async fn setup(tx: TenantTx) -> AppResult<Page<SetupPage>> {
    tx.authorize(Permission::ConfigureSchedule, Target::Organization, "schedule_setup").await?;
    Ok(Page(render_setup(&tx, None).await?))
}

pub async fn add_hours(tx: TenantTx, body: axum::body::Bytes) -> AppResult<Response> {
    tx.authorize(Permission::ConfigureSchedule, Target::Organization, "schedule_setup").await?;
    let form: HoursForm = parse_form(&body)?;
    let provider = form.provider_id.parse::<ProviderId>().ok();
    let weekday = form.weekday.parse::<i16>().ok().filter(|d| (1..=7).contains(d));
    let (starts, ends) = (domain::parse_time(&form.starts), domain::parse_time(&form.ends));
    let problem = match (provider, weekday, starts, ends) {
        (None, ..) => Some("Choose a provider."),
        (_, None, ..) => Some("Choose a day of the week."),
        (_, _, Some(s), Some(e)) if e <= s => Some("The end must be after the start."),
        (_, _, Some(_), Some(_)) => None,
        _ => Some("Enter times as HH:MM (24-hour), for example 09:00."),
    };
    if let Some(message) = problem {
        let mut page = render_setup(&tx, None).await?;
        page.hours_error = Some(message.into());
        page.hours_form = form;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let (Some(provider), Some(weekday), Some(starts), Some(ends)) = (provider, weekday, starts, ends) else {
        return Err(AppError::Internal);
    };
    let inserted = {
        let mut db = tx.conn().await?;
        sqlx::query("SAVEPOINT hours").execute(&mut *db).await?;
        let result = sqlx::query!(
            "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends)
             SELECT $1, id, $3, $4, $5 FROM providers WHERE id = $2 AND deleted_at IS NULL",
            tx.context().tenant.organization_id.as_uuid(),
            provider.as_uuid(),
            weekday,
            starts,
            ends
        )
        .execute(&mut *db)
        .await;
        match result {
            Ok(done) => {
                sqlx::query("RELEASE SAVEPOINT hours").execute(&mut *db).await?;
                Ok(done.rows_affected() == 1)
            }
            Err(error) if error.as_database_error().and_then(|e| e.code()).as_deref() == Some("23P01") => {
                sqlx::query("ROLLBACK TO SAVEPOINT hours").execute(&mut *db).await?;
                Err("These hours overlap hours already set for that day.")
            }
            Err(error) => return Err(error.into()),
        }
    };
    match inserted {
        Ok(true) => Ok(Page(render_setup(&tx, Some("Working hours added.".into())).await?).into_response()),
        Ok(false) => Err(tx.not_found("provider", provider.as_uuid()).await),
        Err(message) => {
            let mut page = render_setup(&tx, None).await?;
            page.hours_error = Some(message.into());
            page.hours_form = form;
            Ok((StatusCode::CONFLICT, Page(page)).into_response())
        }
    }
}

pub async fn remove_hours(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page<SetupPage>> {
    tx.authorize(Permission::ConfigureSchedule, Target::Organization, "schedule_setup").await?;
    let id: WorkingHoursId = id.parse().map_err(|_| AppError::NotFound)?;
    let removed = {
        let mut db = tx.conn().await?;
        sqlx::query!("DELETE FROM provider_working_hours WHERE id = $1", id.as_uuid())
            .execute(&mut *db)
            .await?
            .rows_affected()
    };
    if removed == 0 {
        return Err(tx.not_found("working_hours", id.as_uuid()).await);
    }
    Ok(Page(render_setup(&tx, Some("Working hours removed.".into())).await?))
}

pub async fn add_type(tx: TenantTx, body: axum::body::Bytes) -> AppResult<Response> {
    tx.authorize(Permission::ConfigureSchedule, Target::Organization, "schedule_setup").await?;
    let form: TypeForm = parse_form(&body)?;
    let name = form.name.trim();
    let minutes = form.duration_minutes.trim().parse::<i32>().ok().filter(|m| (5..=480).contains(m));
    let problem = if name.is_empty() || name.chars().count() > 100 {
        Some("Name the kind of appointment (up to 100 characters).")
    } else if minutes.is_none() {
        Some("Enter a length between 5 and 480 minutes.")
    } else {
        None
    };
    let added = match (problem, minutes) {
        (None, Some(minutes)) => {
            let mut db = tx.conn().await?;
            sqlx::query!(
                "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, $2, $3)
                 ON CONFLICT (organization_id, name) DO NOTHING",
                tx.context().tenant.organization_id.as_uuid(),
                name,
                minutes
            )
            .execute(&mut *db)
            .await?
            .rows_affected()
                == 1
        }
        _ => false,
    };
    if added {
        return Ok(
            Page(render_setup(&tx, Some(format!("\u{201c}{name}\u{201d} added."))).await?).into_response()
        );
    }
    let mut page = render_setup(&tx, None).await?;
    page.type_error =
        Some(problem.unwrap_or("There is already a kind of appointment with that name.").into());
    page.type_form = form;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response())
}

pub async fn toggle_type(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page<SetupPage>> {
    tx.authorize(Permission::ConfigureSchedule, Target::Organization, "schedule_setup").await?;
    let id: AppointmentTypeId = id.parse().map_err(|_| AppError::NotFound)?;
    let changed = {
        let mut db = tx.conn().await?;
        sqlx::query!("UPDATE appointment_types SET is_active = NOT is_active WHERE id = $1", id.as_uuid())
            .execute(&mut *db)
            .await?
            .rows_affected()
    };
    if changed == 0 {
        return Err(tx.not_found("appointment_type", id.as_uuid()).await);
    }
    Ok(Page(render_setup(&tx, Some("Saved.".into())).await?))
}
