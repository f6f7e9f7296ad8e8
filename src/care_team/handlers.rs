use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::audit::{Action, AuditEvent};
use crate::auth::policy::{self, CareTeamChange, Permission};
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::{CareTeamMemberId, ProviderId, UserId};
use crate::notify::tasks::{self, NewTask, TaskKind};
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

pub(crate) const ROLES: [(&str, &str); 3] =
    [("primary", "Primary provider"), ("specialist", "Specialist"), ("consultant", "Consultant")];

fn role_label(role: &str) -> &'static str {
    ROLES.iter().find(|(r, _)| *r == role).map_or("Member", |(_, label)| label)
}

pub(crate) struct MemberRow {
    pub id: String,
    pub name: String,
    pub credentials: String,
    pub specialty: Option<String>,
    pub role: &'static str,
    pub since: String,
}

#[derive(Template)]
#[template(path = "care_team/section.html")]
pub(crate) struct CareTeamSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub members: Vec<MemberRow>,
    pub can_manage: bool,
    /// Providers not yet on the team: (id, "Name, MD").
    pub available: Vec<(String, String)>,
    pub roles: [(&'static str, &'static str); 3],
    pub chosen_role: String,
    pub reason: String,
    pub error: Option<String>,
    pub care_team_only: bool,
    /// What this person may change, said on the page.
    pub who_may_change: &'static str,
}

async fn render(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<CareTeamSection> {
    let mut db = tx.conn().await?;
    let members = sqlx::query!(
        r#"SELECT c.id AS "id: CareTeamMemberId", c.role, c.added_at, u.display_name, pr.credentials, pr.specialty
             FROM care_team_members c
             JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
             JOIN users u ON u.id = pr.user_id
            WHERE c.patient_id = $1 AND c.removed_at IS NULL
            ORDER BY c.role = 'primary' DESC, c.role, u.display_name"#,
        chart.id().as_uuid()
    )
    .fetch_all(&mut *db)
    .await?;
    let available = sqlx::query!(
        r#"SELECT pr.id AS "id: ProviderId", u.display_name, pr.credentials
             FROM providers pr JOIN users u ON u.id = pr.user_id
            WHERE pr.deleted_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM care_team_members c
                               WHERE c.patient_id = $1 AND c.provider_id = pr.id AND c.removed_at IS NULL)
            ORDER BY u.display_name"#,
        chart.id().as_uuid()
    )
    .fetch_all(&mut *db)
    .await?;
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
    let name = sqlx::query_scalar!(
        "SELECT u.display_name FROM providers pr JOIN users u ON u.id = pr.user_id WHERE pr.id = $1",
        provider.as_uuid()
    )
    .fetch_optional(&mut *tx.conn().await?)
    .await?;
    Ok(name.unwrap_or_default())
}

fn event(chart: &Chart, action: Action) -> AuditEvent {
    AuditEvent::success(action, "patient", chart.id()).patient(chart.id()).purpose("chart.care_team")
}

pub async fn section(tx: TenantTx, Path(id): Path<String>) -> AppResult<Framed<ChartFrame, CareTeamSection>> {
    let chart = chart::open(&tx, &id, Permission::ViewCareTeam).await?;
    let section = render(&tx, &chart, None).await?;
    tx.audit(&event(&chart, Action::Read)).await?;
    Ok(Framed(chart.frame("care-team"), section))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct AddForm {
    provider_id: String,
    role: String,
    reason: String,
}

/// The reason given for a change, or what is wrong with it.
fn reason(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    match text.chars().count() {
        0 => {
            Err("Say why (for example \u{201c}referred for cardiology\u{201d}); it is kept with the change.")
        }
        1..=300 => Ok(text),
        _ => Err("Keep the reason under 300 characters."),
    }
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
    let actor = tx.context().tenant.user_id;
    let mut db = tx.conn().await?;
    let actor_name =
        sqlx::query_scalar!("SELECT display_name FROM users WHERE id = $1", actor.map(|u| u.as_uuid()))
            .fetch_optional(&mut *db)
            .await?
            .unwrap_or_else(|| "Someone".to_owned());
    let mut people: Vec<UserId> = sqlx::query_scalar!(
        r#"SELECT DISTINCT pr.user_id AS "user_id: UserId"
             FROM care_team_members c
             JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
            WHERE c.patient_id = $1 AND c.removed_at IS NULL"#,
        chart.id().as_uuid()
    )
    .fetch_all(&mut *db)
    .await?;
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
            let found = sqlx::query_scalar!(
                r#"SELECT user_id AS "user_id: crate::db::ids::UserId" FROM providers WHERE id = $1 AND deleted_at IS NULL"#,
                provider.as_uuid()
            )
            .fetch_optional(&mut *db)
            .await?;
            let exists = found.is_some();
            let adds_self = found.is_some_and(|user| Some(user) == tx.context().tenant.user_id);
            let primary_taken = form.role == "primary"
                && sqlx::query_scalar!(
                    r#"SELECT EXISTS (SELECT 1 FROM care_team_members WHERE patient_id = $1 AND role = 'primary' AND removed_at IS NULL) AS "taken!""#,
                    chart.id().as_uuid()
                )
                .fetch_one(&mut *db)
                .await?;
            if !exists {
                Err("Choose a provider from the list.".to_owned())
            } else if let Err(refusal) = allowed(&tx, &chart, adds_self, form.role == "primary", false) {
                Err(refusal)
            } else if primary_taken {
                Err("This patient already has a primary provider. Remove them first, or add this provider as a specialist or consultant.".to_owned())
            } else {
                sqlx::query!(
                    "INSERT INTO care_team_members (organization_id, patient_id, provider_id, role, added_by, added_reason)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT DO NOTHING",
                    tx.context().tenant.organization_id.as_uuid(),
                    chart.id().as_uuid(),
                    provider.as_uuid(),
                    form.role,
                    tx.context().tenant.user_id.map(|u| u.as_uuid()),
                    form.reason.trim()
                )
                .execute(&mut *db)
                .await?;
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
            Ok(Framed(chart.frame("care-team"), section).into_response())
        }
        Err(message) => {
            let mut section = render(&tx, &chart, None).await?;
            section.error = Some(message);
            section.chosen_role = form.role;
            section.reason = form.reason;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Framed(chart.frame("care-team"), section)).into_response())
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
    let found = {
        let mut db = tx.conn().await?;
        sqlx::query!(
            r#"SELECT c.role, pr.user_id AS "user_id: UserId", u.display_name
                 FROM care_team_members c
                 JOIN providers pr ON pr.organization_id = c.organization_id AND pr.id = c.provider_id
                 JOIN users u ON u.id = pr.user_id
                WHERE c.id = $1 AND c.patient_id = $2 AND c.removed_at IS NULL"#,
            member.as_uuid(),
            chart.id().as_uuid()
        )
        .fetch_optional(&mut *db)
        .await?
    };
    let Some(found) = found else { return Err(tx.not_found("care_team_member", member.as_uuid()).await) };
    let primary = found.role == "primary";
    let refused = allowed(&tx, &chart, false, primary, primary)
        .err()
        .or_else(|| reason(&form.reason).err().map(str::to_owned));
    if let Some(message) = refused {
        let mut section = render(&tx, &chart, None).await?;
        section.error = Some(message);
        return Ok(
            (StatusCode::UNPROCESSABLE_ENTITY, Framed(chart.frame("care-team"), section)).into_response()
        );
    }
    {
        let mut db = tx.conn().await?;
        sqlx::query!(
            "UPDATE care_team_members SET removed_at = $3, removed_by = $4, removed_reason = $5
              WHERE id = $1 AND patient_id = $2 AND removed_at IS NULL",
            member.as_uuid(),
            chart.id().as_uuid(),
            tx.now(),
            tx.context().tenant.user_id.map(|u| u.as_uuid()),
            form.reason.trim()
        )
        .execute(&mut *db)
        .await?;
    }
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
    Ok(Framed(chart.frame("care-team"), section).into_response())
}
