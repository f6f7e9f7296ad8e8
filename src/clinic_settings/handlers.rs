use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::repo;
use super::views::{ModuleRow, ModulesPage, SettingsErrors, SettingsForm, SettingsPage};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{Module, Permission, Target};
use crate::web::{AppResult, AppState, Page, SteppedUp, TenantTx, parse_form};

/// "72, 24" into [72, 24] (largest first); a message when it is not that.
fn parse_leads(text: &str) -> Result<Vec<i32>, String> {
    let message = "Enter up to four numbers of hours between 1 and 336, separated by commas (for example 72, 24), or leave it empty for no reminders.";
    let mut leads = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<i32>() {
            Ok(hours) if (1..=336).contains(&hours) && !leads.contains(&hours) => leads.push(hours),
            _ => return Err(message.into()),
        }
    }
    if leads.len() > 4 {
        return Err(message.into());
    }
    leads.sort_unstable_by(|a, b| b.cmp(a));
    Ok(leads)
}

fn zones() -> Vec<&'static str> {
    crate::clock::offered_zones()
}

async fn load(tx: &TenantTx) -> AppResult<(String, SettingsForm)> {
    let row = repo::load(&mut *tx.conn().await?, tx.context().tenant.organization_id).await?;
    Ok((
        row.name,
        SettingsForm {
            timezone: row.timezone,
            chart_access: row.chart_access.unwrap_or_else(|| "all_staff".into()),
            proxy_clinical_grants: row.proxy_clinical_grants.unwrap_or_else(|| "access_managers".into()),
            session_idle_minutes: row.idle.unwrap_or_default(),
            break_glass_minutes: row.break_glass_minutes.unwrap_or_default(),
            require_patient_mfa: if row.patient_mfa { "1".into() } else { String::new() },
            reminder_leads: row.reminder_lead_hours.iter().map(i32::to_string).collect::<Vec<_>>().join(", "),
            window_start: row.contact_window_start.format("%H:%M").to_string(),
            window_end: row.contact_window_end.format("%H:%M").to_string(),
            callback_phone: row.callback_phone.unwrap_or_default(),
        },
    ))
}

/// The settings as the audit log keeps them (the callback number only as set or not).
fn audited(form: &SettingsForm) -> serde_json::Value {
    json!({
        "timezone": form.timezone, "chart_access": form.chart_access,
        "proxy_clinical_grants": form.proxy_clinical_grants, "session_idle_minutes": form.session_idle_minutes,
        "break_glass_minutes": form.break_glass_minutes, "require_patient_mfa": !form.require_patient_mfa.is_empty(),
        "reminder_lead_hours": form.reminder_leads, "contact_window": [form.window_start, form.window_end],
        "callback_phone_set": !form.callback_phone.is_empty(),
    })
}

pub async fn page(tx: TenantTx) -> AppResult<Page<SettingsPage>> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "organization").await?;
    let (clinic, form) = load(&tx).await?;
    Ok(Page(SettingsPage { clinic, form, errors: SettingsErrors::default(), notice: None, zones: zones() }))
}

pub(crate) async fn save(_: SteppedUp, tx: TenantTx, body: axum::body::Bytes) -> AppResult<Response> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "organization").await?;
    let form: SettingsForm = parse_form(&body)?;
    let mut errors = SettingsErrors::default();
    let timezone = form.timezone.trim();
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        errors.timezone =
            Some("Choose a timezone from the list (an IANA name such as America/New_York).".into());
    }
    let idle = form.session_idle_minutes.trim();
    let idle_minutes = if idle.is_empty() {
        None
    } else {
        match idle.parse::<i32>() {
            Ok(m) if (1..=15).contains(&m) => Some(m),
            _ => {
                errors.idle = Some(
                    "Enter a number of minutes from 1 to 15, or leave it empty for the standard 15 (staff) and 30 (patients)."
                        .into(),
                );
                None
            }
        }
    };
    let break_glass_minutes = match form.break_glass_minutes.trim() {
        "" => None,
        text => match text.parse::<i32>() {
            Ok(m) if (5..=60).contains(&m) => Some(m),
            _ => {
                errors.break_glass =
                    Some("Enter a number of minutes from 5 to 60, or leave it empty for 60.".into());
                None
            }
        },
    };
    let leads = parse_leads(&form.reminder_leads).map_err(|m| errors.leads = Some(m)).unwrap_or_default();
    let window = match (
        crate::notify::facts::parse_clock_time(&form.window_start),
        crate::notify::facts::parse_clock_time(&form.window_end),
    ) {
        (Some(start), Some(end)) if start < end => Some((start, end)),
        _ => {
            errors.window = Some(
                "Enter the hours as HH:MM, the first earlier than the second (for example 08:00 and 21:00)."
                    .into(),
            );
            None
        }
    };
    let callback = match form.callback_phone.trim() {
        "" => None,
        text => match crate::contact_info::normalize_phone(text) {
            Ok(number) => Some(number),
            Err(problem) => {
                errors.callback =
                    Some(format!("This number cannot be used: {}.", problem.trim_end_matches('.')));
                None
            }
        },
    };
    if errors.any() {
        let (clinic, _) = load(&tx).await?;
        let page = SettingsPage { clinic, form, errors, notice: None, zones: zones() };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Page(page)).into_response());
    }
    let chart_access = if form.chart_access == "care_team_only" { "care_team_only" } else { "all_staff" };
    let patient_mfa = !form.require_patient_mfa.is_empty();
    let proxy_clinical_grants =
        if form.proxy_clinical_grants == "providers" { "providers" } else { "access_managers" };
    let (_, before) = load(&tx).await?;
    {
        let clinic = tx.context().tenant.organization_id;
        let mut db = tx.conn().await?;
        let access = repo::Access {
            timezone,
            chart_access,
            proxy_clinical_grants,
            patient_mfa,
            idle_minutes,
            break_glass_minutes,
        };
        repo::save_access(&mut db, clinic, &access).await?;
        if let Some(window) = window {
            repo::save_messaging(&mut db, clinic, &leads, window, callback.as_deref()).await?;
        }
    }
    let (clinic, form) = load(&tx).await?;
    tx.audit(
        &AuditEvent::success(Action::Update, "organization", tx.context().tenant.organization_id.as_uuid())
            .purpose("clinic_settings")
            .details(json!({ "before": audited(&before), "after": audited(&form) })),
    )
    .await?;
    Ok(Page(SettingsPage {
        clinic,
        form,
        errors: SettingsErrors::default(),
        notice: Some("Saved. The change holds from everyone's next request.".into()),
        zones: zones(),
    })
    .into_response())
}

fn modules_page_for(offered: &[Module], disabled: &[Module], notice: Option<String>) -> ModulesPage {
    ModulesPage {
        notice,
        modules: offered
            .iter()
            .map(|m| ModuleRow {
                value: m.as_str(),
                label: m.label(),
                description: m.description(),
                used: !disabled.contains(m),
            })
            .collect(),
        coming: Module::ALL.into_iter().filter(|m| !offered.contains(m)).map(Module::label).collect(),
    }
}

/// `GET /settings/modules`: which parts of the product the clinic uses.
pub async fn modules_page(State(state): State<AppState>, tx: TenantTx) -> AppResult<Page<ModulesPage>> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "organization").await?;
    let stored = repo::disabled_modules(&mut *tx.conn().await?, tx.context().tenant.organization_id).await?;
    Ok(Page(modules_page_for(&state.modules, &Module::parse_all(&stored), None)))
}

/// `POST /settings/modules`: one `module` field per part in use; a part that exists and is
/// not ticked is switched off (a part not built yet keeps what was stored).
pub(crate) async fn save_modules(
    State(state): State<AppState>,
    _: SteppedUp,
    tx: TenantTx,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    tx.authorize(Permission::ManageOrganization, Target::Organization, "organization").await?;
    let ticked: Vec<Module> = url::form_urlencoded::parse(&body)
        .filter(|(name, _)| name == "module")
        .filter_map(|(_, value)| Module::parse(&value))
        .collect();
    let clinic = tx.context().tenant.organization_id;
    let before = Module::parse_all(&repo::disabled_modules(&mut *tx.conn().await?, clinic).await?);
    let mut after: Vec<Module> = Module::ALL
        .into_iter()
        .filter(|m| if state.modules.contains(m) { !ticked.contains(m) } else { before.contains(m) })
        .collect();
    after.sort_unstable();
    if after != before {
        let names: Vec<String> = after.iter().map(|m| m.as_str().to_owned()).collect();
        repo::save_disabled_modules(&mut *tx.conn().await?, clinic, &names).await?;
        tx.audit(
            &AuditEvent::success(Action::Update, "organization", clinic.as_uuid())
                .purpose("clinic_modules")
                .details(json!({ "before": { "disabled_modules": before }, "after": { "disabled_modules": after } })),
        )
        .await?;
    }
    let notice = if after == before {
        "Nothing changed."
    } else {
        "Saved. The change holds from everyone's next page."
    };
    Ok(Page(modules_page_for(&state.modules, &after, Some(notice.into()))).into_response())
}
