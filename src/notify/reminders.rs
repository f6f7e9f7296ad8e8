//! Appointment reminders. Every few minutes `reminders.plan_all` queues one
//! `reminders.plan` job per clinic; that job finds booked appointments whose reminder time
//! (start minus a lead, e.g. 72 h and 24 h) has come and records one notification per
//! appointment, start time and lead, then queues its sending.
//!
//! All in UTC instants, so daylight-saving changes neither skip nor repeat a reminder.
//! Planning catches up: after downtime or a clock jump forward, what fell due is planned
//! at once (only the nearest lead, not every lead that passed); a clock jump back plans
//! nothing twice, because the notification's key already exists. A moved appointment gets
//! reminders for its new time; the old ones are withdrawn when their job runs.

use async_trait::async_trait;
use chrono::TimeDelta;
use sqlx::{Postgres, Transaction};

use super::jobs::queue_send;
use crate::db::ids::{NotificationId, OrganizationId};
use crate::jobs::{Job, JobContext, JobError, JobKind, NewJob, Outcome, enqueue};

pub(crate) const PLAN_ALL: &str = "reminders.plan_all";
pub(crate) const PLAN: &str = "reminders.plan";

/// Queues a planning job for every active clinic (platform context).
pub(crate) struct PlanAllReminders;

#[async_trait]
impl JobKind for PlanAllReminders {
    fn kind(&self) -> &'static str {
        PLAN_ALL
    }

    fn every(&self) -> Option<TimeDelta> {
        Some(TimeDelta::minutes(5))
    }

    async fn run(
        &self,
        job: &Job,
        tx: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> Result<Outcome, JobError> {
        let clinics = sqlx::query_scalar!(
            r#"SELECT id AS "id: OrganizationId" FROM organizations WHERE status = 'active' AND deleted_at IS NULL"#
        )
        .fetch_all(&mut **tx)
        .await?;
        let now = context.clock.now();
        for clinic in clinics {
            // One planning job per clinic per planning round.
            let key = format!("{clinic}:{}", job.id);
            enqueue(
                tx,
                &NewJob::new(PLAN, serde_json::json!({})).for_organization(clinic).idempotency_key(key),
                now,
            )
            .await?;
        }
        Ok(Outcome::Done)
    }
}

/// Plans the reminders that fell due in one clinic (its own transaction context).
pub(crate) struct PlanReminders;

#[async_trait]
impl JobKind for PlanReminders {
    fn kind(&self) -> &'static str {
        PLAN
    }

    async fn run(
        &self,
        job: &Job,
        tx: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> Result<Outcome, JobError> {
        let organization = job.organization()?;
        let now = context.clock.now();
        let Some(clinic) = super::facts::clinic(tx).await? else {
            return Err(JobError::Permanent("the clinic is not visible to its own job".into()));
        };
        let planned = plan(tx, &clinic.reminder_lead_hours, now).await?;
        for id in planned {
            queue_send(tx, organization, id, now).await?;
        }
        Ok(Outcome::Done)
    }
}

/// Records the reminders due at `now` for the transaction's clinic; returns the new ones.
pub async fn plan(
    conn: &mut sqlx::PgConnection,
    leads: &[i32],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<NotificationId>, sqlx::Error> {
    let Some(&longest) = leads.iter().max() else { return Ok(Vec::new()) };
    let mut leads: Vec<i32> = leads.to_vec();
    leads.sort_unstable();
    // For each booked appointment inside the longest lead: the nearest lead that is due.
    // An appointment booked 10 hours ahead gets the 24-hour reminder only, once.
    let rows = sqlx::query_scalar!(
        r#"INSERT INTO notifications (organization_id, patient_id, purpose, template, subject_id, subject_at, lead_hours)
           SELECT a.organization_id, a.patient_id, 'appointments', 'appointment_reminder', a.id, a.starts_at, due.lead
             FROM appointments a
             CROSS JOIN LATERAL (
                 SELECT lead FROM unnest($3::int[]) AS l(lead)
                  WHERE a.starts_at - make_interval(hours => lead) <= $1
                  ORDER BY lead LIMIT 1) AS due
            WHERE a.status = 'booked' AND a.starts_at > $1 AND a.starts_at <= $2
              AND NOT EXISTS (
                  SELECT 1 FROM notifications n
                   WHERE n.subject_id = a.id AND n.subject_at = a.starts_at
                     AND n.template = 'appointment_reminder' AND n.lead_hours <= due.lead)
           ON CONFLICT DO NOTHING
           RETURNING id AS "id: NotificationId""#,
        now,
        now + TimeDelta::hours(i64::from(longest)),
        &leads
    )
    .fetch_all(conn)
    .await?;
    Ok(rows)
}
