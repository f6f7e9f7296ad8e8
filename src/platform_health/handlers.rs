use std::collections::HashMap;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::domain::masked_error;
use super::repo;
use super::views::{ChainLine, DeadLine, HealthPage, QueueLine};
use crate::audit::{Action, AuditEvent};
use crate::db::errors::lacks_privilege;
use crate::db::ids::JobId;
use crate::web::{AppError, AppResult, Page, SystemTx};

/// Longer than the sealer ever takes (it runs every few seconds): the page says so.
const SEALING_LAG_WARNING: TimeDelta = TimeDelta::minutes(1);

fn when(at: DateTime<Utc>) -> String {
    at.format("%b %-d, %Y %H:%M:%S UTC").to_string()
}

fn duration(seconds: i64) -> String {
    match seconds {
        ..=0 => "none".into(),
        1..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

async fn render(tx: &mut SystemTx, notice: Option<String>) -> AppResult<HealthPage> {
    let now = tx.now();
    let conn = tx.conn().await?;
    let chains = match repo::chains(&mut *conn).await {
        Ok(chains) => chains,
        Err(error) if lacks_privilege(&error) => return Err(AppError::Forbidden),
        Err(error) => return Err(error.into()),
    };
    let names: HashMap<_, _> = repo::clinic_names(&mut *conn).await?.into_iter().collect();
    let queues = repo::queue_by_clinic(&mut *conn, now)
        .await?
        .into_iter()
        .map(|q| QueueLine {
            clinic: q.clinic.unwrap_or_else(|| "Platform".into()),
            suspended: q.clinic_status.as_deref() == Some("suspended"),
            ready: q.ready,
            scheduled: q.scheduled,
            running: q.running,
            dead: q.dead,
            lag: duration(q.lag_seconds as i64),
        })
        .collect();
    let dead = repo::dead_jobs(&mut *conn, 50)
        .await?
        .into_iter()
        .map(|j| DeadLine {
            id: j.id.to_string(),
            kind: j.kind,
            clinic: j.clinic.unwrap_or_else(|| "Platform".into()),
            attempts: format!("{} of {}", j.attempts, j.max_attempts),
            finished: j.finished_at.map_or_else(|| "—".into(), when),
            error: j.last_error.as_deref().map_or_else(|| "—".into(), masked_error),
        })
        .collect();
    let chains = chains
        .into_iter()
        .map(|c| {
            let waited = c.oldest_unsealed.map(|at| now - at).unwrap_or_default();
            ChainLine {
                chain: c.organization_id.map_or_else(
                    || "Platform".into(),
                    |id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
                ),
                sealed: c.sealed,
                last_sealed: c.last_sealed_at.map_or_else(|| "never".into(), when),
                lag: if c.unsealed == 0 {
                    "none waiting".into()
                } else {
                    format!("{} waiting, the oldest for {}", c.unsealed, duration(waited.num_seconds()))
                },
                lagging: c.unsealed > 0 && waited > SEALING_LAG_WARNING,
                broken: c.verification_problem.is_some(),
                verification: match (c.verified_at, c.verified_sealed, c.verification_problem) {
                    (Some(at), _, Some(problem)) => format!("{}: broken. {problem}", when(at)),
                    (Some(at), Some(sealed), None) => format!("{}: {sealed} seals verified", when(at)),
                    _ => "never verified".into(),
                },
            }
        })
        .collect();
    Ok(HealthPage { notice, queues, dead, chains })
}

pub async fn page(mut tx: SystemTx) -> AppResult<Page<HealthPage>> {
    let page = render(&mut tx, None).await?;
    tx.commit().await?;
    Ok(Page(page))
}

/// `POST /platform/health/jobs/{job_id}/retry`: a dead job gets a fresh set of attempts,
/// due now. A message it sends passes the contact gate again when it runs.
pub async fn retry(mut tx: SystemTx, Path(id): Path<String>) -> AppResult<Response> {
    let id: JobId = id.parse().map_err(|_| AppError::NotFound)?;
    let now = tx.now();
    let conn = tx.conn().await?;
    let Some(kind) = repo::dead_job_kind(&mut *conn, id).await? else {
        return Err(AppError::NotFound);
    };
    if !crate::jobs::queue::retry(&mut *conn, id, now).await? {
        return Err(AppError::NotFound);
    }
    tx.audit(
        &AuditEvent::success(Action::Update, "job", id.as_uuid())
            .purpose("platform_health.retry")
            .details(json!({ "kind": kind, "before": { "state": "dead" }, "after": { "state": "queued" } })),
    )
    .await?;
    let page = render(&mut tx, Some(format!("The {kind} job is queued again, due now."))).await?;
    tx.commit().await?;
    Ok(Page(page).into_response())
}
