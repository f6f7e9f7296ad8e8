//! The day and week schedules, and the live updates an open schedule listens to.

use axum::extract::{Path, Query, State};
use chrono::{Duration, NaiveDate};
use serde_json::json;

use super::super::domain::{self, Hours};
use super::super::repo::{self};
use super::super::views::*;
use super::{abilities, visit, zone_label};
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
    let (_, viewer) = (tx.context().clinic_timezone, tx.context().timezone);
    let now = tx.now();
    let today = now.with_timezone(&viewer).date_naive();
    let date = domain::parse_date(&query.date).unwrap_or(today);
    let (from, to) = domain::day_bounds(viewer, date);
    let (providers, rows, all_hours) = {
        let mut db = tx.conn().await?;
        (
            repo::providers(&mut db).await?,
            repo::between(&mut db, from, to, None, None, tx.context().tenant.user_id).await?,
            repo::all_hours(&mut db).await?,
        )
    };
    let can = abilities(&tx);
    let total = rows.len();
    let shown = crate::audit::shown_patients(rows.iter().map(|r| r.patient_id));
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
        columns,
        can_configure: policy::grants(tx.context().principal, Permission::ConfigureSchedule),
        return_to: format!("/schedule?date={date}"),
        total,
    }))
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
            repo::between(&mut db, from, to, Some(provider_id), None, tx.context().tenant.user_id).await?,
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
        provider_name: format!("{}, {}", provider.name, provider.credentials),
        heading: format!("Week of {}", monday.format("%-d %B %Y")),
        previous: (monday - Duration::days(7)).to_string(),
        next: (monday + Duration::days(7)).to_string(),
        zone: zone_label(viewer, now),
        days,
        return_to: format!("/schedule/providers/{provider_id}?week={monday}"),
    }))
}
