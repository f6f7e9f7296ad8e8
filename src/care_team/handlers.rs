use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{ROLES, reason, role_label};
use super::repo;
use super::views::{CareTeamSection, MemberRow};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{self, CareTeamChange, Permission};
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::{CareTeamMemberId, ProviderId, UserId};
use crate::notify::tasks::{self, NewTask, TaskKind};
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

async fn render(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<CareTeamSection> {
    let mut db = tx.conn().await?;
    let members = repo::members(&mut db, chart.id()).await?;
    let available = repo::available(&mut db, chart.id()).await?;
    Ok(CareTeamSection {
        patient_id: chart.id().to_string(),
        notice,
        members: members
            .into_iter()
            .map(|m| MemberRow {
                id: m.id.to_string(),
                name: m.display_name,
                credentials: m.credentials,
                specialty: m.specialty,
                role: role_label(&m.role),
                since: m.added_at.with_timezone(&chart.timezone).format("%Y-%m-%d").to_string(),
            })
            .collect(),
        can_manage: chart.allows(tx, Permission::ManageCareTeam),
        available: available
            .into_iter()
            .map(|p| (p.id.to_string(), format!("{}, {}", p.display_name, p.credentials)))
            .collect(),
        roles: ROLES,
        chosen_role: "specialist".into(),
        reason: String::new(),
        error: None,
        care_team_only: tx.context().chart_access == policy::ChartAccess::CareTeamOnly,
        who_may_change: "The patient's care-team providers change the team; the front desk assigns a primary provider to a patient who has none. Replacing a primary provider is for the care team, who are told. Nobody adds themselves.",
    })
}

/// A provider's name as the team shows it.
async fn provider_name(tx: &TenantTx, provider: ProviderId) -> AppResult<String> {
    let name = repo::provider_name(&mut *tx.conn().await?, provider).await?;
    Ok(name.unwrap_or_default())
}

fn event(chart: &Chart, action: Action) -> AuditEvent {
    AuditEvent::success(action, "patient", chart.id()).patient(chart.id()).purpose("chart.care_team")
}

pub async fn section(tx: TenantTx, Path(id): Path<String>) -> AppResult<Framed<ChartFrame, CareTeamSection>> {
    let chart = chart::open(&tx, &id, Permission::ViewCareTeam).await?;
    let section = render(&tx, &chart, None).await?;
    tx.audit(&event(&chart, Action::Read)).await?;
    Ok(Framed(chart.frame(crate::care_team::SECTION), section))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct AddForm {
    provider_id: String,
    role: String,
    reason: String,
}

/// Whether the policy lets this person make `change`, with the refusal in words.
fn allowed(
    tx: &TenantTx,
    chart: &Chart,
    adds_self: bool,
    primary: bool,
    removes_primary: bool,
) -> Result<(), String> {
    let change =
        CareTeamChange { actor_on_team: chart.facts.on_care_team, adds_self, primary, removes_primary };
    policy::may_change_care_team(tx.context().principal, change).map_err(|r| r.message().to_owned())
}

/// A primary provider changed: who reads the patient's sensitive notes changed with it.
/// Every provider on the team now (the new primary among them) and `former` (a primary
/// just removed) get a task saying so, with who did it and why. Returns how many were told.
async fn tell_about_primary(
    tx: &TenantTx,
    chart: &Chart,
    what: &str,
    reason: &str,
    former: Option<UserId>,
) -> AppResult<usize> {
    let actor = tx.context().tenant.person();
    let mut db = tx.conn().await?;
    let actor_name = repo::user_name(&mut db, actor).await?.unwrap_or_else(|| "Someone".to_owned());
    let mut people = repo::team_accounts(&mut db, chart.id()).await?;
    people.extend(former);
    people.sort();
    people.dedup();
    people.retain(|person| Some(*person) != actor);
    let summary = format!("{actor_name} {what}. Reason given: {reason}");
    for person in &people {
        let task = NewTask {
            patient: chart.id(),
            kind: TaskKind::CareTeamChanged,
            summary: &summary,
            notification: None,
            assignee: Some(*person),
        };
        tasks::raise(&mut db, &task).await?;
    }
    Ok(people.len())
}

pub async fn add(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::ManageCareTeam).await?;
    let form: AddForm = parse_form(&body)?;
    let problem = |message: &str| message.to_owned();
    let provider = form.provider_id.parse::<ProviderId>().ok();
    let error = if provider.is_none() {
        Some(problem("Choose a provider."))
    } else if !ROLES.iter().any(|(r, _)| *r == form.role) {
        Some(problem("Choose the provider's role on the team."))
    } else {
        reason(&form.reason).err().map(problem)
    };
    let outcome = match (error, provider) {
        (None, Some(provider)) => {
            let mut db = tx.conn().await?;
            let found = repo::provider_account(&mut db, provider).await?;
            let exists = found.is_some();
            let adds_self = found.is_some_and(|user| Some(user) == tx.context().tenant.person());
            let primary_taken = form.role == "primary" && repo::has_primary(&mut db, chart.id()).await?;
            if !exists {
                Err("Choose a provider from the list.".to_owned())
            } else if let Err(refusal) = allowed(&tx, &chart, adds_self, form.role == "primary", false) {
                Err(refusal)
            } else if primary_taken {
                Err("This patient already has a primary provider. Remove them first, or add this provider as a specialist or consultant.".to_owned())
            } else {
                let member = repo::NewMember {
                    clinic: tx.context().tenant.organization_id,
                    patient: chart.id(),
                    provider,
                    role: &form.role,
                    added_by: tx.context().tenant.person(),
                    reason: form.reason.trim(),
                };
                repo::add(&mut db, &member).await?;
                Ok(provider)
            }
        }
        (error, _) => Err(error.unwrap_or_default()),
    };
    match outcome {
        Ok(provider) => {
            let told = if form.role == "primary" {
                let name = provider_name(&tx, provider).await?;
                tell_about_primary(
                    &tx,
                    &chart,
                    &format!("made {name} the primary provider"),
                    form.reason.trim(),
                    None,
                )
                .await?
            } else {
                0
            };
            tx.audit(&event(&chart, Action::Create).details(json!({
                "provider_id": provider.to_string(),
                "role": form.role,
                "reason_given": true,
                "care_team_told": told,
            })))
            .await?;
            let chart = chart::open(&tx, &id, Permission::ManageCareTeam).await?;
            let section =
                render(&tx, &chart, Some(format!("Added as {}.", role_label(&form.role).to_lowercase())))
                    .await?;
            Ok(Framed(chart.frame(crate::care_team::SECTION), section).into_response())
        }
        Err(message) => {
            let mut section = render(&tx, &chart, None).await?;
            section.error = Some(message);
            section.chosen_role = form.role;
            section.reason = form.reason;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Framed(chart.frame(crate::care_team::SECTION), section))
                .into_response())
        }
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct RemoveForm {
    reason: String,
}

pub async fn remove(
    tx: TenantTx,
    Path((id, member_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::ManageCareTeam).await?;
    let member: CareTeamMemberId = member_id.parse().map_err(|_| AppError::NotFound)?;
    let form: RemoveForm = parse_form(&body)?;
    let found = repo::current_member(&mut *tx.conn().await?, member, chart.id()).await?;
    let Some(found) = found else { return Err(tx.not_found("care_team_member", member.as_uuid()).await) };
    let primary = found.role == "primary";
    let refused = allowed(&tx, &chart, false, primary, primary)
        .err()
        .or_else(|| reason(&form.reason).err().map(str::to_owned));
    if let Some(message) = refused {
        let mut section = render(&tx, &chart, None).await?;
        section.error = Some(message);
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Framed(chart.frame(crate::care_team::SECTION), section),
        )
            .into_response());
    }
    let by = tx.context().tenant.person();
    repo::remove(&mut *tx.conn().await?, member, chart.id(), tx.now(), by, form.reason.trim()).await?;
    let told = if primary {
        let what = format!("removed {} as the primary provider", found.display_name);
        tell_about_primary(&tx, &chart, &what, form.reason.trim(), Some(found.user_id)).await?
    } else {
        0
    };
    tx.audit(&event(&chart, Action::Delete).details(json!({
        "care_team_member_id": member.to_string(),
        "reason_given": true,
        "care_team_told": told,
    })))
    .await?;
    let chart = chart::open(&tx, &id, Permission::ManageCareTeam).await?;
    let section = render(&tx, &chart, Some("Removed from the care team.".into())).await?;
    Ok(Framed(chart.frame(crate::care_team::SECTION), section).into_response())
}
