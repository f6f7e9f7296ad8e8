//! The day and week schedules, and the live updates an open schedule listens to.

use axum::extract::{Path, Query, State};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::super::domain::grid::{self, Cell, Span};
use super::super::domain::{self, Clock, Hours};
use super::super::repo::{self, AppointmentRow};
use super::super::views::*;
use super::{Abilities, abilities, visit, zone_label};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::policy::{self, Permission, Target};
use crate::db::ids::ProviderId;
use crate::web::{AppError, AppResult, AppState, Page, TenantTx};

// ---- schedule views -----------------------------------------------------------------------

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct DayQuery {
    date: String,
}

fn hours_text(hours: &[Hours], weekday: i16) -> String {
    let blocks: Vec<String> = hours
        .iter()
        .filter(|h| h.weekday == weekday)
        .map(|h| format!("{}\u{2013}{}", Clock(h.starts), Clock(h.ends)))
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
    let changes = tokio_stream::wrappers::BroadcastStream::new(state.live_events(domain::LIVE_CHANNEL));
    let stream = changes.filter_map(move |event| async move {
        match event {
            Ok(event) if event.organization_id == organization => {
                let change = domain::ScheduleChange::parse(&event.payload)?;
                Some(Ok(Event::default()
                    .event("schedule")
                    .data(format!("{} {}", change.appointment_id, change.change))))
            }
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
    let (clinic, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let now = tx.now();
    let today = now.with_timezone(&viewer).date_naive();
    let date = domain::parse_date(&query.date).unwrap_or(today);
    let (from, to) = domain::day_bounds(viewer, date);
    let here = tx.context().tenant.organization_id;
    let (providers, rows, all_hours, busy) = {
        let mut db = tx.conn().await?;
        (
            repo::providers(&mut db).await?,
            repo::between(&mut db, from, to, None, None, tx.context().tenant.person()).await?,
            repo::all_hours(&mut db).await?,
            repo::busy_times(&mut db, from, to, None, Some(here)).await?,
        )
    };
    let can = abilities(&tx);
    let total = rows.len();
    let shown = crate::audit::shown_patients(rows.iter().map(|r| r.patient_id));
    let weekday = domain::iso_weekday(date);
    let sources = providers
        .into_iter()
        .map(|p| {
            let hours: Vec<Hours> = all_hours
                .iter()
                .filter(|h| h.provider_id == p.id)
                .map(|h| Hours { weekday: h.weekday, starts: h.starts, ends: h.ends })
                .collect();
            let heading = format!("{}, {}", p.name, p.credentials);
            ColumnSource {
                key: p.id.to_string(),
                href: format!("/schedule/providers/{}?week={date}", p.id),
                hours: hours_text(&hours, weekday),
                open: grid::open_spans(clinic, &hours, date),
                visits: rows.iter().filter(|r| r.provider_id == p.id).cloned().collect(),
                elsewhere: busy.iter().filter(|b| b.provider_id == p.id).map(span_of_busy).collect(),
                booking: format!("with {heading}"),
                heading,
                provider: p.id,
                date,
            }
        })
        .collect();
    tx.audit(&schedule_event(
        "schedule.day",
        json!({ "date": date.to_string(), "appointments": total, "patient_ids": shown }),
    ))
    .await?;
    Ok(Page(DayPage {
        date: date.to_string(),
        heading: date.format("%A %-d %B %Y").to_string(),
        previous: (date - Duration::days(1)).to_string(),
        next: (date + Duration::days(1)).to_string(),
        today: today.to_string(),
        zone: zone_label(viewer, now),
        grid: time_grid(sources, viewer, now, can, can_pick_patient(&tx)),
        can_configure: policy::grants(tx.context().principal, Permission::ConfigureSchedule),
        return_to: format!("/schedule?date={date}"),
        total,
    }))
}

fn can_pick_patient(tx: &TenantTx) -> bool {
    policy::grants(tx.context().principal, Permission::SearchPatients)
}

/// What one column of the grid is made of, before it is laid out.
struct ColumnSource {
    key: String,
    heading: String,
    href: String,
    hours: String,
    /// Said after "Book 09:15" to a screen reader: "with Dr Ada Lovelace, MD", "on Tue 8 Dec".
    booking: String,
    provider: ProviderId,
    date: NaiveDate,
    open: Vec<Span>,
    visits: Vec<AppointmentRow>,
    elsewhere: Vec<Span>,
}

fn span_of_busy(busy: &repo::BusyTime) -> Span {
    Span { starts: busy.starts_at, ends: busy.ends_at }
}

/// Where an empty slot sends the front desk: the registry, to choose the patient, and
/// then (this) that patient's appointments with the slot filled in.
fn booking_next_step(provider: ProviderId, date: NaiveDate, time: NaiveTime) -> String {
    format!("/patients/{{patient_id}}/appointments?provider_id={provider}&date={date}&time={}", Clock(time))
}

/// Lays the columns out on one set of rows.
///
/// An empty slot is a booking link for whoever may book and may also look patients up in
/// the registry (the call center books from the screen-pop instead).
fn time_grid(
    sources: Vec<ColumnSource>,
    viewer: Tz,
    now: DateTime<Utc>,
    can: Abilities,
    can_pick_patient: bool,
) -> TimeGrid {
    let mut cancelled = Vec::new();
    let mut prepared = Vec::with_capacity(sources.len());
    for mut source in sources {
        let (live, gone): (Vec<_>, Vec<_>) =
            std::mem::take(&mut source.visits).into_iter().partition(|r| r.status != "cancelled");
        cancelled.extend(gone.into_iter().map(|r| visit(r, viewer, now, can)));
        let spans: Vec<Span> = live.iter().map(|r| Span { starts: r.starts_at, ends: r.ends_at }).collect();
        prepared.push((source, live, spans));
    }
    let layouts: Vec<grid::Column<'_>> = prepared
        .iter()
        .map(|(source, _, spans)| grid::Column {
            date: source.date,
            open: &source.open,
            visits: spans,
            elsewhere: &source.elsewhere,
        })
        .collect();
    let window = grid::window(viewer, &layouts);
    let laid: Vec<Vec<Cell>> = layouts.iter().map(|column| grid::lay_out(viewer, window, column)).collect();
    drop(layouts);
    let columns = prepared
        .into_iter()
        .zip(laid)
        .map(|((source, live, _), cells)| {
            let mut visits: Vec<Option<Visit>> =
                live.into_iter().map(|r| Some(visit(r, viewer, now, can))).collect();
            let cells = cells
                .into_iter()
                .map(|cell| match cell {
                    Cell::Free { row, time, at, open } => GridCell::Free {
                        row,
                        time: Clock(time),
                        open,
                        book: (can.manage && can_pick_patient && open && at.is_some_and(|at| at > now))
                            .then(|| booking_next_step(source.provider, source.date, time)),
                    },
                    Cell::Elsewhere { row, span, starts, ends } => GridCell::Elsewhere {
                        row,
                        span,
                        label: format!("{}\u{2013}{}", Clock(starts), Clock(ends)),
                    },
                    Cell::Visits { row, span, visits: members } => GridCell::Visits {
                        row,
                        span,
                        visits: members
                            .into_iter()
                            .filter_map(|(index, conflict)| {
                                visits.get_mut(index)?.take().map(|visit| GridVisit { visit, conflict })
                            })
                            .collect(),
                    },
                })
                .collect();
            GridColumn {
                key: source.key,
                heading: source.heading,
                href: source.href,
                hours: source.hours,
                booking: source.booking,
                cells,
            }
        })
        .collect();
    let times =
        window.rows().map(|(line, time)| (line, (time.minute() == 0).then_some(Clock(time)))).collect();
    TimeGrid { times, columns, cancelled }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct WeekQuery {
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
    let (clinic, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let now = tx.now();
    let today = now.with_timezone(&viewer).date_naive();
    let monday = domain::week_start(domain::parse_date(&query.week).unwrap_or(today));
    let (from, _) = domain::day_bounds(viewer, monday);
    let (to, _) = domain::day_bounds(viewer, monday + Duration::days(7));
    let here = tx.context().tenant.organization_id;
    let (provider, rows, hours, busy) = {
        let mut db = tx.conn().await?;
        let provider = repo::providers(&mut db).await?.into_iter().find(|p| p.id == provider_id);
        let Some(provider) = provider else {
            drop(db);
            return Err(tx.not_found("provider", provider_id.as_uuid()).await);
        };
        (
            provider,
            repo::between(&mut db, from, to, Some(provider_id), None, tx.context().tenant.person()).await?,
            repo::hours(&mut db, provider_id).await?,
            repo::busy_times(&mut db, from, to, Some(provider_id), Some(here)).await?,
        )
    };
    let can = abilities(&tx);
    let provider_name = format!("{}, {}", provider.name, provider.credentials);
    let sources = (0..7)
        .map(|offset| {
            let date: NaiveDate = monday + Duration::days(offset);
            let (starts, ends) = domain::day_bounds(viewer, date);
            ColumnSource {
                key: date.to_string(),
                heading: date.format("%a %-d %b").to_string(),
                href: format!("/schedule?date={date}"),
                hours: hours_text(&hours, domain::iso_weekday(date)),
                booking: format!("on {}", date.format("%A %-d %B")),
                provider: provider_id,
                date,
                open: grid::open_spans(clinic, &hours, date),
                visits: rows.iter().filter(|r| r.starts_at < ends && r.ends_at > starts).cloned().collect(),
                elsewhere: busy
                    .iter()
                    .filter(|b| b.starts_at < ends && b.ends_at > starts)
                    .map(span_of_busy)
                    .collect(),
            }
        })
        .collect();
    tx.audit(&schedule_event(
        "schedule.week",
        json!({
            "provider_id": provider_id.to_string(),
            "week": monday.to_string(),
            "appointments": rows.len(),
            "patient_ids": crate::audit::shown_patients(rows.iter().map(|r| r.patient_id)),
        }),
    ))
    .await?;
    Ok(Page(WeekPage {
        provider_id: provider_id.to_string(),
        provider_name,
        heading: format!("Week of {}", monday.format("%-d %B %Y")),
        previous: (monday - Duration::days(7)).to_string(),
        next: (monday + Duration::days(7)).to_string(),
        zone: zone_label(viewer, now),
        grid: time_grid(sources, viewer, now, can, can_pick_patient(&tx)),
        return_to: format!("/schedule/providers/{provider_id}?week={monday}"),
    }))
}
