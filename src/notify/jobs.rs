//! The jobs that send: `notify.send` (one automated message, through the gate) and
//! `email.account` (an account e-mail that waited sealed in `outbound_emails`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Postgres, Transaction};

use super::content::{self, ReminderFacts};
use super::gate::{self, Channel, Decision, Message, Purpose};
use super::tasks::{NewTask, TaskKind};
use super::{Notifier, destination_hash, facts};
use crate::audit::{self, Action, AuditEvent, Outcome as AuditOutcome};
use crate::db::ids::{NotificationId, OrganizationId, OutboundEmailId, PatientId};
use crate::db::tenant::TenantContext;
use crate::integrations::mail::Email;
use crate::jobs::{Job, JobContext, JobError, JobKind, NewJob, Outcome, enqueue};

pub(crate) const SEND: &str = "notify.send";
pub(crate) const ACCOUNT_EMAIL: &str = "email.account";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SendPayload {
    pub notification_id: NotificationId,
}

/// Queues the sending of notification `id` (already inserted) in the caller's transaction.
pub async fn queue_send(
    conn: &mut PgConnection,
    organization: OrganizationId,
    id: NotificationId,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let job = NewJob::new(SEND, SendPayload { notification_id: id })
        .for_organization(organization)
        .idempotency_key(id.to_string())
        .max_attempts(6);
    enqueue(conn, &job, now).await?;
    Ok(())
}

pub(crate) struct SendNotification {
    notifier: Notifier,
}

impl SendNotification {
    pub fn new(notifier: Notifier) -> Self {
        Self { notifier }
    }
}

struct Pending {
    id: NotificationId,
    patient: PatientId,
    purpose: Purpose,
    template: String,
    subject_id: Option<uuid::Uuid>,
    subject_at: Option<DateTime<Utc>>,
}

#[async_trait]
impl JobKind for SendNotification {
    fn kind(&self) -> &'static str {
        SEND
    }

    async fn run(
        &self,
        job: &Job,
        tx: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> Result<Outcome, JobError> {
        let organization = job.organization()?;
        let payload: SendPayload = job.payload()?;
        let now = context.clock.now();
        let audit_context = TenantContext::system(organization);

        // Row-level security decides what this clinic's job may see: a payload naming
        // another clinic's notification finds nothing, and the job dies.
        let row = sqlx::query!(
            r#"SELECT id AS "id: NotificationId", patient_id AS "patient_id: PatientId", purpose, template,
                      subject_id, subject_at, status
                 FROM notifications WHERE id = $1 FOR UPDATE"#,
            payload.notification_id.as_uuid()
        )
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| JobError::Permanent("no such notification in this clinic".into()))?;
        if !matches!(row.status.as_str(), "pending" | "failed") {
            return Ok(Outcome::Done); // already settled (a retried job after its commit)
        }
        let pending = Pending {
            id: row.id,
            patient: row.patient_id,
            purpose: Purpose::parse(&row.purpose).unwrap_or(Purpose::Messages),
            template: row.template,
            subject_id: row.subject_id,
            subject_at: row.subject_at,
        };

        // A reminder for an appointment that was cancelled or moved is withdrawn. A
        // sensitive visit (the visit, or its type) is a sensitive matter: no proxy hears of it.
        let (reminder_start, sensitive) = if pending.template == "appointment_reminder" {
            let still = sqlx::query!(
                r#"SELECT a.starts_at, (a.sensitive OR t.sensitive) AS "sensitive!"
                     FROM appointments a
                     JOIN appointment_types t ON t.organization_id = a.organization_id AND t.id = a.appointment_type_id
                    WHERE a.id = $1 AND a.status = 'booked'"#,
                pending.subject_id
            )
            .fetch_optional(&mut **tx)
            .await?;
            match still {
                Some(row) if Some(row.starts_at) == pending.subject_at && row.starts_at > now => {
                    (row.starts_at, row.sensitive)
                }
                _ => {
                    sqlx::query!(
                        "UPDATE notifications SET status = 'withdrawn', decided_at = $2 WHERE id = $1",
                        pending.id.as_uuid(),
                        now
                    )
                    .execute(&mut **tx)
                    .await?;
                    return Ok(Outcome::Done);
                }
            }
        } else {
            return Err(JobError::Permanent(format!("unknown message template {:?}", pending.template)));
        };

        let clinic = facts::clinic(tx)
            .await?
            .ok_or_else(|| JobError::Permanent("the clinic is not visible to its own job".into()))?;
        let Some(patient) =
            facts::patient(tx, pending.patient, pending.purpose, clinic.timezone, now).await?
        else {
            return Err(JobError::Permanent("the patient is no longer in the registry".into()));
        };
        let message = Message { purpose: pending.purpose, sensitive };
        let decision = gate::decide(&patient, message, clinic.window, now);

        let destination = match decision {
            Decision::Defer(at) => return Ok(Outcome::RunAt(at)),
            Decision::Block(reason) => {
                record_block(tx, &audit_context, &pending, &reason, now).await?;
                return Ok(Outcome::Done);
            }
            Decision::Send(destination) => destination,
        };

        let facts = ReminderFacts {
            starts_at: reminder_start,
            zone: patient.timezone,
            callback: clinic.callback_phone.clone(),
            portal_url: self.notifier.portal_url.clone(),
            for_dependent: destination.proxy.is_some(),
        };
        let to = destination.contact.value.clone();
        let sent = match destination.channel {
            Channel::Sms => self
                .notifier
                .texts
                .send_text(&to, &content::reminder_text(&facts))
                .await
                .map_err(|e| e.to_string()),
            Channel::Voice => self
                .notifier
                .voice
                .call(&to, &content::reminder_voice(&facts))
                .await
                .map_err(|e| e.to_string()),
            Channel::Email => self
                .notifier
                .mailer
                .send(&content::reminder_email(&to, &facts))
                .await
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
        };

        let contact_id = Some(destination.contact.id.as_uuid()).filter(|id| !id.is_nil());
        let details = serde_json::json!({
            "channel": destination.channel.as_str(),
            "destination_hash": destination_hash(&to),
            "safety_version": destination.contact.version,
            "via_proxy": destination.proxy.is_some(),
            "template": pending.template,
            "attempt": job.attempt,
        });
        let (status, outcome) = match &sent {
            Ok(_) => ("sent", AuditOutcome::Success),
            Err(_) => ("failed", AuditOutcome::Failure),
        };
        sqlx::query!(
            "UPDATE notifications SET status = $2, channel = $3, contact_method_id = $4, recipient_user_id = $5,
                    destination_hash = $6, safety_version = $7, provider_message_id = $8,
                    attempts = attempts + 1, decided_at = $9
              WHERE id = $1",
            pending.id.as_uuid(),
            status,
            destination.channel.as_str(),
            contact_id,
            destination.proxy.map(|u| u.as_uuid()),
            destination_hash(&to),
            destination.contact.version,
            sent.as_ref().ok().filter(|id| !id.is_empty()),
            now
        )
        .execute(&mut **tx)
        .await?;
        let action = if sent.is_ok() { Action::MessageSent } else { Action::MessageFailed };
        let mut event = AuditEvent::new(action, outcome)
            .resource("notification", pending.id.as_uuid())
            .patient(pending.patient)
            .purpose(format!("notify.{}", pending.purpose.as_str()))
            .details(details);
        if let Err(error) = &sent {
            event.details["error"] = serde_json::Value::String(error.chars().take(200).collect());
        }
        audit::record(tx, &audit_context, &event).await?;

        match sent {
            Ok(_) => Ok(Outcome::Done),
            Err(error) if job.attempt >= job.max_attempts => {
                // The last attempt: people take over.
                raise_task(
                    tx,
                    &pending,
                    &format!(
                        "An appointment reminder could not be delivered ({}). Please contact the patient.",
                        destination.channel.label()
                    ),
                )
                .await?;
                Ok(Outcome::RetryLater(error))
            }
            Err(error) => Ok(Outcome::RetryLater(error)),
        }
    }
}

async fn record_block(
    conn: &mut PgConnection,
    context: &TenantContext,
    pending: &Pending,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE notifications SET status = 'blocked', block_reason = $2, decided_at = $3 WHERE id = $1",
        pending.id.as_uuid(),
        reason,
        now
    )
    .execute(&mut *conn)
    .await?;
    raise_task(conn, pending, &format!("Appointment reminder not sent. {reason}")).await?;
    let event = AuditEvent::new(Action::MessageBlocked, AuditOutcome::Denied)
        .resource("notification", pending.id.as_uuid())
        .patient(pending.patient)
        .purpose(format!("notify.{}", pending.purpose.as_str()))
        .details(serde_json::json!({ "template": pending.template, "reason": reason }));
    audit::record(conn, context, &event).await?;
    Ok(())
}

async fn raise_task(conn: &mut PgConnection, pending: &Pending, summary: &str) -> Result<(), sqlx::Error> {
    let task = NewTask {
        patient: pending.patient,
        kind: TaskKind::MessageBlocked,
        summary,
        notification: Some(pending.id),
        assignee: None,
    };
    super::tasks::raise(conn, &task).await
}

// ---- account e-mail ---------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccountEmailPayload {
    pub email_id: OutboundEmailId,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    subject: String,
    text: String,
    html: String,
}

/// Queues an account e-mail in the caller's transaction: sealed with the data key until
/// the `email.account` job sends it, then erased.
pub(crate) async fn queue_account_email(
    conn: &mut PgConnection,
    notifier: &Notifier,
    email: &Email,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let sealed = serde_json::to_vec(&Sealed {
        subject: email.subject.clone(),
        text: email.text.clone(),
        html: email.html.clone(),
    })
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    // Queued from any context, read only by the platform's: so no RETURNING.
    let id = OutboundEmailId::new();
    sqlx::query!(
        "INSERT INTO outbound_emails (id, organization_id, to_address, sealed_message, created_at)
         VALUES ($1, nullif(current_setting('app.organization_id', true), '')::uuid, $2, $3, $4)",
        id.as_uuid(),
        email.to,
        notifier.data_key.encrypt(&sealed),
        now
    )
    .execute(&mut *conn)
    .await?;
    let job = NewJob::new(ACCOUNT_EMAIL, AccountEmailPayload { email_id: id }).max_attempts(10);
    enqueue(conn, &job, now).await?;
    Ok(())
}

pub(crate) struct SendAccountEmail {
    notifier: Notifier,
}

impl SendAccountEmail {
    pub fn new(notifier: Notifier) -> Self {
        Self { notifier }
    }
}

#[async_trait]
impl JobKind for SendAccountEmail {
    fn kind(&self) -> &'static str {
        ACCOUNT_EMAIL
    }

    async fn run(
        &self,
        job: &Job,
        tx: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> Result<Outcome, JobError> {
        let payload: AccountEmailPayload = job.payload()?;
        let Some(row) = sqlx::query!(
            "SELECT to_address::text AS \"to!\", sealed_message FROM outbound_emails
              WHERE id = $1 AND sent_at IS NULL FOR UPDATE",
            payload.email_id.as_uuid()
        )
        .fetch_optional(&mut **tx)
        .await?
        else {
            return Ok(Outcome::Done); // sent already
        };
        let sealed =
            row.sealed_message.ok_or_else(|| JobError::Permanent("the message was erased".into()))?;
        let opened = self
            .notifier
            .data_key
            .decrypt(&sealed)
            .map_err(|_| JobError::Permanent("the message cannot be opened with this data key".into()))?;
        let message: Sealed = serde_json::from_slice(&opened)
            .map_err(|_| JobError::Permanent("the sealed message is not readable".into()))?;
        self.notifier
            .mailer
            .send(&Email { to: row.to, subject: message.subject, text: message.text, html: message.html })
            .await
            .map_err(|e| JobError::Transient(e.to_string()))?;
        sqlx::query!(
            "UPDATE outbound_emails SET sent_at = $2, sealed_message = NULL WHERE id = $1",
            payload.email_id.as_uuid(),
            context.clock.now()
        )
        .execute(&mut **tx)
        .await?;
        Ok(Outcome::Done)
    }
}
