use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::domain::{PRIORITIES, Problems, RELATIONSHIPS, Typed, check, label};
use super::repo::{self, Coverage};
use super::views::{InsuranceSection, PolicyRow};
use crate::audit::{Action, AuditEvent};
use crate::auth::policy::Permission;
use crate::chart::{self, Chart, ChartFrame};
use crate::db::ids::InsurancePolicyId;
use crate::web::{AppError, AppResult, Framed, TenantTx, parse_form};

type Page = Framed<ChartFrame, InsuranceSection>;

fn row(c: Coverage, chart: &Chart) -> PolicyRow {
    let subscriber = if c.subscriber_relationship == "self" {
        format!("{} (the patient)", c.subscriber_name)
    } else {
        let relationship = label(&RELATIONSHIPS, &c.subscriber_relationship).to_lowercase();
        match c.subscriber_date_of_birth {
            Some(born) => format!("{}, {relationship}, born {}", c.subscriber_name, born.format("%Y-%m-%d")),
            None => format!("{}, {relationship}", c.subscriber_name),
        }
    };
    PolicyRow {
        id: c.id.to_string(),
        priority: label(&PRIORITIES, &c.priority),
        payer: c.payer,
        plan_name: c.plan_name,
        member_id: c.member_id,
        group_number: c.group_number,
        subscriber,
        effective: c.effective_on.map(|d| d.format("%Y-%m-%d").to_string()),
        ended: c.ended_at.map(|at| {
            let day = at.with_timezone(&chart.timezone).format("%Y-%m-%d");
            match c.ended_reason {
                Some(reason) => format!("{day}: {reason}"),
                None => day.to_string(),
            }
        }),
    }
}

async fn render(tx: &TenantTx, chart: &Chart, notice: Option<String>) -> AppResult<InsuranceSection> {
    let policies = repo::list(&mut *tx.conn().await?, chart.id()).await?;
    let (current, ended): (Vec<_>, Vec<_>) =
        policies.into_iter().map(|c| row(c, chart)).partition(|p| p.ended.is_none());
    let next_priority = PRIORITIES
        .iter()
        .map(|(value, _)| *value)
        .find(|value| !current.iter().any(|p| p.priority == label(&PRIORITIES, value)))
        .unwrap_or("primary");
    Ok(InsuranceSection {
        patient_id: chart.id().to_string(),
        notice,
        error: None,
        current,
        ended,
        can_edit: chart.allows(tx, Permission::EditInsurance),
        form: Typed {
            priority: next_priority.to_owned(),
            subscriber_relationship: "self".into(),
            ..Typed::default()
        },
        problems: Problems::default(),
        priorities: PRIORITIES,
        relationships: RELATIONSHIPS,
    })
}

/// The audit purpose of this section's answers.
const PURPOSE: &str = "chart.insurance";

fn event(chart: &Chart, action: Action) -> AuditEvent {
    chart.event(action, PURPOSE)
}

fn page(chart: &Chart, section: InsuranceSection) -> Page {
    Framed(chart.frame(super::SECTION), section)
}

/// A refusal: the section again (its read on record) with what was wrong, as 422.
async fn refused(tx: &TenantTx, chart: &Chart, section: InsuranceSection) -> AppResult<Response> {
    chart.refused(tx, super::SECTION, PURPOSE, section).await
}

pub async fn section(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page> {
    let chart = chart::open(&tx, &id, Permission::ViewBilling).await?;
    let section = render(&tx, &chart, None).await?;
    tx.audit(&event(&chart, Action::Read)).await?;
    Ok(page(&chart, section))
}

pub async fn add(tx: TenantTx, Path(id): Path<String>, body: axum::body::Bytes) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::EditInsurance).await?;
    let typed: Typed = parse_form(&body)?;
    let today = tx.now().with_timezone(&chart.timezone).date_naive();
    let name = format!("{} {}", chart.header.given_name, chart.header.family_name);
    let mut checked = check(&typed, &name, today);
    if let Ok(policy) = &checked
        && repo::priority_taken(&mut *tx.conn().await?, chart.id(), &policy.priority).await?
    {
        checked = Err(Box::new(Problems {
            priority: Some("A current policy has this rank already. End it first, or choose another rank."),
            ..Problems::default()
        }));
    }
    let policy = match checked {
        Ok(policy) => policy,
        Err(problems) => {
            let mut section = render(&tx, &chart, None).await?;
            section.problems = *problems;
            section.form = typed;
            return refused(&tx, &chart, section).await;
        }
    };
    let by = tx.context().tenant.person();
    let clinic = tx.context().tenant.organization_id;
    let saved = repo::add(&mut *tx.conn().await?, clinic, chart.id(), &policy, by).await?;
    tx.audit(&event(&chart, Action::Create).details(json!({
        "insurance_policy_id": saved.to_string(),
        "priority": policy.priority,
    })))
    .await?;
    let notice = format!("{} recorded as the {} coverage.", policy.payer, policy.priority);
    let section = render(&tx, &chart, Some(notice)).await?;
    Ok(page(&chart, section).into_response())
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(crate) struct EndForm {
    reason: String,
}

pub async fn end(
    tx: TenantTx,
    Path((id, policy_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let chart = chart::open(&tx, &id, Permission::EditInsurance).await?;
    let policy: InsurancePolicyId = policy_id.parse().map_err(|_| AppError::NotFound)?;
    let form: EndForm = parse_form(&body)?;
    let reason = form.reason.trim();
    let problem = match reason.chars().count() {
        0 => Some(
            "Say why the policy no longer applies (for example \u{201c}coverage ended 2026-11-30\u{201d}).",
        ),
        301.. => Some("Keep the reason under 300 characters."),
        _ => None,
    };
    let ended = match problem {
        None => repo::end(
            &mut *tx.conn().await?,
            chart.id(),
            policy,
            tx.now(),
            tx.context().tenant.person(),
            reason,
        )
        .await?
        .ok_or(None),
        Some(message) => Err(Some(message)),
    };
    let payer = match ended {
        Ok(payer) => payer,
        Err(None) => return Err(tx.not_found("insurance_policy", policy.as_uuid()).await),
        Err(Some(message)) => {
            let mut section = render(&tx, &chart, None).await?;
            if !section.current.iter().any(|p| p.id == policy.to_string()) {
                return Err(tx.not_found("insurance_policy", policy.as_uuid()).await);
            }
            section.error = Some(message.to_owned());
            return refused(&tx, &chart, section).await;
        }
    };
    tx.audit(
        &event(&chart, Action::Update)
            .details(json!({ "insurance_policy_id": policy.to_string(), "ended": true })),
    )
    .await?;
    let section = render(&tx, &chart, Some(format!("{payer} no longer applies."))).await?;
    Ok(page(&chart, section).into_response())
}
