//! The appointment pages, by area: the chart's section and one visit (`visits`), the
//! day and week schedules with their live updates (`schedule`), and the clinic's set-up
//! of working hours and appointment types (`setup`). What they share is here.

mod schedule;
mod setup;
mod visits;

pub use schedule::{day, events, week};
pub use setup::{add_hours, add_type, remove_hours, setup, toggle_type};
pub use visits::{
    book, cancel, check_in, complete, detail, free_slots, no_show, reschedule, section, undo_check_in,
};

use chrono::{DateTime, Datelike, Duration, Utc};
use chrono_tz::Tz;

use super::domain::{self, Clock, Hours, status_label};
use super::repo::{self, AppointmentRow};
use super::views::{BookingErrors, BookingForm, Choices, Visit};
use crate::auth::policy::{self, PatientFacts, Permission};
use crate::db::ids::{AppointmentTypeId, ProviderId};
use crate::web::{AppResult, TenantTx};

/// What the viewer may do, decided once per page.
#[derive(Clone, Copy)]
pub(super) struct Abilities {
    pub(super) manage: bool,
    policy: policy::PolicyContext,
}

pub(super) fn abilities(tx: &TenantTx) -> Abilities {
    let context = tx.context();
    Abilities {
        manage: policy::grants(context.principal, Permission::ManageSchedule),
        policy: context.policy(tx.now()),
    }
}

pub(super) fn visit(row: AppointmentRow, zone: Tz, now: DateTime<Utc>, can: Abilities) -> Visit {
    let start = row.starts_at.with_timezone(&zone);
    let end = row.ends_at.with_timezone(&zone);
    let today = now.with_timezone(&zone).date_naive();
    let status = row.status.as_str();
    let facts =
        PatientFacts { patient_id: row.patient_id, on_care_team: row.on_care_team, sensitive: row.sensitive };
    // A sensitive visit the viewer may not read about is just a visit: no reason, no
    // type name (a type can say as much as a reason), no badge that marks it out.
    let open = policy::may_see_visit_reason(&can.policy, facts);
    Visit {
        id: row.id.to_string(),
        patient_id: row.patient_id.to_string(),
        patient_name: row.patient_name,
        provider_name: row.provider_name,
        type_name: if open || !row.sensitive { row.type_name } else { "Visit".to_owned() },
        date: format!("{} {}", start.weekday(), start.date_naive()),
        // The offset's Display is its abbreviation ("EST"), as `%Z` writes it.
        time: format!("{}\u{2013}{} {}", Clock(start), Clock(end), start.offset()),
        status_label: status_label(status),
        reason: if open { row.reason } else { None },
        sensitive: open && row.sensitive,
        can_check_in: can.manage && status == "booked" && start.date_naive() == today,
        can_complete: can.manage && status == "checked_in",
        can_no_show: can.manage && status == "booked" && row.starts_at <= now,
        can_cancel: can.manage && status == "booked",
        can_undo_check_in: can.manage && status == "checked_in" && start.date_naive() == today,
        status: row.status,
    }
}

pub(super) fn zone_label(zone: Tz, now: DateTime<Utc>) -> String {
    format!("{} ({})", now.with_timezone(&zone).format("%Z"), zone.name())
}

pub(super) async fn choices(tx: &TenantTx, zone: Tz) -> AppResult<Choices> {
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
pub(super) struct Slot {
    pub(super) provider: ProviderId,
    pub(super) appointment_type: AppointmentTypeId,
    pub(super) starts_at: DateTime<Utc>,
    pub(super) ends_at: DateTime<Utc>,
}

/// Validates a booking form (typed on the viewer's clock, checked against the provider's
/// working hours on the clinic's clock). Errors land next to their fields.
pub(super) async fn check_slot(
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

pub(super) fn taken_message(starts_at: DateTime<Utc>, viewer: Tz) -> String {
    format!(
        "The provider already has an appointment overlapping {}. Choose another time.",
        starts_at.with_timezone(&viewer).format("%Y-%m-%d %H:%M %Z")
    )
}
