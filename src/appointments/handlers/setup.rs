//! The clinic's scheduling set-up: providers' working hours and appointment types.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::super::domain::{self, WEEKDAYS};
use super::super::repo::{self};
use super::super::views::*;
use super::zone_label;
use crate::auth::policy::{Permission, Target};
use crate::db::errors::Refused;
use crate::db::ids::{AppointmentTypeId, ProviderId, WorkingHoursId};
use crate::web::{AppError, AppResult, Page, TenantTx, parse_form};

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
            .map(|t| TypeRow {
                id: t.id.to_string(),
                name: t.name,
                minutes: t.duration_minutes,
                active: t.is_active,
                sensitive: t.sensitive,
            })
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
    let organization = tx.context().tenant.organization_id;
    let inserted = repo::add_hours(&mut *tx.conn().await?, organization, provider, weekday, (starts, ends))
        .await?
        .map_err(|Refused| "These hours overlap hours already set for that day.");
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
    let removed = repo::remove_hours(&mut *tx.conn().await?, id).await?;
    if !removed {
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
            let organization = tx.context().tenant.organization_id;
            repo::add_type(&mut *tx.conn().await?, organization, name, minutes, !form.sensitive.is_empty())
                .await?
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
    let changed = repo::toggle_type(&mut *tx.conn().await?, id).await?;
    if !changed {
        return Err(tx.not_found("appointment_type", id.as_uuid()).await);
    }
    Ok(Page(render_setup(&tx, Some("Saved.".into())).await?))
}
