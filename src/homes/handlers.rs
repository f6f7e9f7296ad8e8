use axum::extract::Path;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use sqlx::{Postgres, Transaction};

use super::domain::waited;
use super::repo::{self, DayVisit};
use super::views::{
    AdminHome, AdminTaskRow, CallsHome, ClinicianHome, DraftRow, FrontDeskHome, LicenceRow, RoomingHome,
    VisitRow,
};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::policy::{self, Permission, Target};
use crate::db::ids::AdminTaskId;
use crate::jobs::{Job, JobContext, JobError, NewJob, Outcome as JobOutcome, enqueue};
use crate::web::{AppError, AppResult, Page, TenantTx};

/// Today's bounds on the viewer's clock, and how the page names the day.
fn today(tx: &TenantTx) -> (DateTime<Utc>, DateTime<Utc>, String) {
    let zone = tx.context().timezone;
    let local = tx.now().with_timezone(&zone);
    let midnight = local.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
    let start =
        midnight.and_local_timezone(zone).earliest().map_or_else(|| tx.now(), |t| t.with_timezone(&Utc));
    let next = (midnight + TimeDelta::days(1))
        .and_local_timezone(zone)
        .earliest()
        .map_or(start + TimeDelta::days(1), |t| t.with_timezone(&Utc));
    (start, next, local.format("%A %-d %B %Y").to_string())
}

fn status_label(status: &str) -> &'static str {
    match status {
        "booked" => "Booked",
        "checked_in" => "Checked in",
        "completed" => "Done",
        "cancelled" => "Cancelled",
        "no_show" => "No-show",
        _ => "",
    }
}

fn row(tx: &TenantTx, v: &DayVisit) -> VisitRow {
    let zone = tx.context().timezone;
    VisitRow {
        id: v.id.to_string(),
        patient_id: v.patient_id.to_string(),
        patient: v.patient_name.clone(),
        provider: v.provider_name.clone(),
        kind: v.type_name.clone(),
        time: v.starts_at.with_timezone(&zone).format("%H:%M").to_string(),
        status: v.status.clone(),
        status_label: status_label(&v.status),
        waiting: (v.status == "checked_in")
            .then(|| v.checked_in_at.map(|at| waited((tx.now() - at).num_minutes())))
            .flatten(),
    }
}

/// A home lists patients: one event per page naming whom it showed (as every list does).
async fn audit_list(
    tx: &TenantTx,
    purpose: &str,
    visits: &[DayVisit],
    extra: &[crate::db::ids::PatientId],
) -> AppResult<()> {
    let mut event = AuditEvent::new(Action::Read, Outcome::Success);
    event.resource_type = Some("home");
    event.purpose = Some(purpose.to_owned());
    let shown =
        crate::audit::shown_patients(visits.iter().map(|v| v.patient_id).chain(extra.iter().copied()));
    event.details = json!({ "count": visits.len() + extra.len(), "patient_ids": shown });
    tx.audit(&event).await
}

pub async fn front_desk(tx: TenantTx) -> AppResult<Page<FrontDeskHome>> {
    tx.authorize(Permission::ManageSchedule, Target::Organization, "home").await?;
    let (from, to, day) = today(&tx);
    let (visits, open_tasks) = {
        let mut db = tx.conn().await?;
        (repo::visits(&mut db, from, to, None).await?, repo::open_tasks(&mut db).await?)
    };
    audit_list(&tx, "home.front_desk", &visits, &[]).await?;
    let pick =
        |status: &str| visits.iter().filter(|v| v.status == status).map(|v| row(&tx, v)).collect::<Vec<_>>();
    // Waiting: the longest first.
    let mut checked_in: Vec<&DayVisit> = visits.iter().filter(|v| v.status == "checked_in").collect();
    checked_in.sort_by_key(|v| v.checked_in_at);
    let waiting = checked_in.into_iter().map(|v| row(&tx, v)).collect();
    Ok(Page(FrontDeskHome {
        today: day,
        arrivals: pick("booked"),
        waiting,
        no_shows: pick("no_show"),
        done: visits.iter().filter(|v| v.status == "completed").count(),
        open_tasks,
        can_check_in: policy::grants(tx.context().principal, Permission::ManageSchedule),
    }))
}

pub async fn clinician(tx: TenantTx) -> AppResult<Page<ClinicianHome>> {
    tx.authorize(Permission::WriteNote, Target::Organization, "home").await?;
    let me = tx.context().tenant.person().ok_or(AppError::Forbidden)?;
    let (from, to, day) = today(&tx);
    let (visits, drafts) = {
        let mut db = tx.conn().await?;
        (repo::visits(&mut db, from, to, Some(me)).await?, repo::drafts(&mut db, me).await?)
    };
    let draft_patients: Vec<_> = drafts.iter().map(|d| d.patient_id).collect();
    audit_list(&tx, "home.clinician", &visits, &draft_patients).await?;
    let zone = tx.context().timezone;
    Ok(Page(ClinicianHome {
        today: day,
        visits: visits.iter().filter(|v| v.status != "cancelled").map(|v| row(&tx, v)).collect(),
        drafts: drafts
            .into_iter()
            .map(|d| DraftRow {
                href: format!("/patients/{}/notes/{}", d.patient_id, d.id),
                patient: d.patient_name,
                title: d.title,
                updated: d.updated_at.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string(),
            })
            .collect(),
    }))
}

pub async fn rooming(tx: TenantTx) -> AppResult<Page<RoomingHome>> {
    tx.authorize(Permission::RecordClinicalSummary, Target::Organization, "home").await?;
    let (from, to, day) = today(&tx);
    let visits = repo::visits(&mut *tx.conn().await?, from, to, None).await?;
    audit_list(&tx, "home.rooming", &visits, &[]).await?;
    let mut queue: Vec<&DayVisit> = visits.iter().filter(|v| v.status == "checked_in").collect();
    queue.sort_by_key(|v| v.checked_in_at);
    let soon = tx.now() + TimeDelta::hours(1);
    Ok(Page(RoomingHome {
        today: day,
        queue: queue.into_iter().map(|v| row(&tx, v)).collect(),
        next_up: visits
            .iter()
            .filter(|v| v.status == "booked" && v.starts_at <= soon)
            .map(|v| row(&tx, v))
            .collect(),
    }))
}

pub async fn calls(tx: TenantTx) -> AppResult<Page<CallsHome>> {
    tx.authorize(Permission::ScreenPop, Target::Organization, "home").await?;
    let (_, _, day) = today(&tx);
    Ok(Page(CallsHome { today: day }))
}

/// How far ahead the administrator's home, and the weekly job's tasks, look for
/// licences that run out.
pub(super) const LICENCE_WARNING_DAYS: i64 = 60;

pub async fn admin(tx: TenantTx) -> AppResult<Page<AdminHome>> {
    admin_home(tx, None).await
}

/// The administrator's home; `done` says what they just did, above their tasks.
async fn admin_home(tx: TenantTx, done: Option<String>) -> AppResult<Page<AdminHome>> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "home").await?;
    let (_, _, day) = today(&tx);
    let clinic_today = tx.now().with_timezone(&tx.context().clinic_timezone).date_naive();
    let (licences, unbookable, tasks) = {
        let mut db = tx.conn().await?;
        (
            repo::expiring_licences(&mut db, clinic_today + TimeDelta::days(LICENCE_WARNING_DAYS)).await?,
            repo::providers_without_profile(&mut db).await?,
            repo::open_admin_tasks(&mut db).await?,
        )
    };
    Ok(Page(AdminHome {
        today: day,
        done,
        tasks: tasks
            .into_iter()
            .map(|t| AdminTaskRow {
                close: format!("/home/admin/tasks/{}/done", t.id),
                profile: t.membership_id.map(|m| format!("/members/{m}/profile")),
                summary: t.summary,
                overdue: t.due_on < clinic_today,
            })
            .collect(),
        licences: licences
            .into_iter()
            .map(|l| LicenceRow {
                href: format!("/members/{}/profile", l.membership_id),
                provider: l.provider_name,
                licence: format!("{} {}", l.state, l.license_number),
                expires_on: l.expires_on.to_string(),
                expired: l.expires_on < clinic_today,
            })
            .collect(),
        unbookable: unbookable
            .into_iter()
            .map(|u| (format!("/members/{}/profile", u.membership_id), u.name))
            .collect(),
    }))
}

/// `POST /home/admin/tasks/{admin_task_id}/done`: the administrator has dealt with a task (the
/// renewal is recorded, or the provider is leaving). Another clinic's task, or one already
/// closed, is not found.
pub async fn close_task(tx: TenantTx, Path(id): Path<String>) -> AppResult<Page<AdminHome>> {
    tx.authorize(Permission::ManageMembers, Target::Organization, "admin_task").await?;
    let id: AdminTaskId = id.parse().map_err(|_| AppError::NotFound)?;
    let user = tx.context().tenant.person().ok_or(AppError::Internal)?;
    let closed = repo::close_admin_task(&mut *tx.conn().await?, id, user, tx.now()).await?;
    let Some(summary) = closed else {
        return Err(tx.not_found("admin_task", id.as_uuid()).await);
    };
    tx.audit(
        &AuditEvent::success(Action::Update, "admin_task", id.as_uuid())
            .purpose("clinic_administration")
            .details(json!({ "before": { "done": false }, "after": { "done": true } })),
    )
    .await?;
    admin_home(tx, Some(format!("Done: {summary}"))).await
}

/// The weekly round: one job per active clinic (platform context).
pub(super) async fn queue_licence_tasks(
    job: &Job,
    tx: &mut Transaction<'static, Postgres>,
    context: &JobContext,
) -> Result<JobOutcome, JobError> {
    let now = context.clock.now();
    for clinic in repo::active_clinics(tx).await? {
        // One per clinic per round, however often the round is retried.
        let key = format!("{clinic}:{}", job.id);
        let task = NewJob::new(super::LICENCE_TASKS, json!({})).for_organization(clinic).idempotency_key(key);
        enqueue(tx, &task, now).await?;
    }
    Ok(JobOutcome::Done)
}

/// One clinic's part of the round, in the clinic's own context.
pub(super) async fn licence_tasks(
    tx: &mut Transaction<'static, Postgres>,
    context: &JobContext,
) -> Result<JobOutcome, JobError> {
    repo::task_expiring_licences(tx, context.clock.now(), LICENCE_WARNING_DAYS as i32).await?;
    Ok(JobOutcome::Done)
}
