//! Outbound communication through the one contact gate, end to end over a real database:
//! reminders planned across clock jumps and a DST change (JOB-06), the gate deciding again
//! at send time and blocking with a staff task (CON-01), random contact configurations
//! (CON-01), minimal content (CON-03), proxies and confidential communication (CON-04),
//! the audit of every attempt (CON-05), signed inbound STOP/START keywords, and the
//! production SMS and voice adapters against a local endpoint that checks SigV4.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use lockdev::clock::Clock as _;
use lockdev::db::ids::{OrganizationId, PatientId, UserId};
use lockdev::jobs::{NewJob, enqueue};
use rand::{Rng as _, SeedableRng as _};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use lockdev::auth::policy::StaffRole;

use crate::fixtures::{TwoTenants, two_tenants};
use crate::helpers::{TestApp, spawn_app};
use crate::workspace::{count, member};

struct Clinic {
    app: TestApp,
    tenants: TwoTenants,
    visit_kind: Uuid,
}

impl Clinic {
    async fn new(app: TestApp) -> Self {
        let owner = app.database().owner_pool().await;
        let tenants = two_tenants(&owner, 0).await;
        let mut su = app.database().superuser().await;
        let visit_kind: Uuid = sqlx::query_scalar(
            "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Follow-up', 30) RETURNING id",
        )
        .bind(tenants.a.org)
        .fetch_one(&mut su)
        .await
        .expect("type");
        // Texts and calls any hour unless a test says otherwise; the clinic's call-back number.
        sqlx::query(
            "UPDATE organizations SET contact_window_start = '00:00', contact_window_end = '23:59',
                    callback_phone = '+16175550100' WHERE id = $1",
        )
        .bind(tenants.a.org)
        .execute(&mut su)
        .await
        .expect("settings");
        Self { app, tenants, visit_kind }
    }

    fn org(&self) -> OrganizationId {
        self.tenants.a.org
    }

    async fn su(&self) -> PgConnection {
        self.app.database().superuser().await
    }

    /// A self-managed patient with a sign-in of their own (for text consent).
    async fn patient(&self, given: &str, family: &str) -> (PatientId, UserId) {
        let mut su = self.su().await;
        let user = UserId::new();
        sqlx::query("INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)")
            .bind(user)
            .bind(format!("{}@patients.example", user.to_string().to_lowercase()))
            .bind(given)
            .execute(&mut su)
            .await
            .expect("user");
        let patient = PatientId::new();
        sqlx::query(
            "INSERT INTO patients (organization_id, id, user_id, mrn, given_name, family_name, date_of_birth, legal_sex)
             VALUES ($1, $2, $3, $4, $5, $6, '1980-02-03', 'female')",
        )
        .bind(self.org())
        .bind(patient)
        .bind(user)
        .bind(format!("M{}", &patient.to_string()[16..]))
        .bind(given)
        .bind(family)
        .execute(&mut su)
        .await
        .expect("patient");
        (patient, user)
    }

    async fn contact(&self, patient: PatientId, kind: &str, value: &str, flags: (bool, bool, bool)) -> Uuid {
        let mut su = self.su().await;
        sqlx::query_scalar(
            "INSERT INTO contact_methods (organization_id, patient_id, kind, value, is_safe_for_sms, is_safe_for_voicemail, is_safe_for_email)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(self.org())
        .bind(patient)
        .bind(kind)
        .bind(value)
        .bind(flags.0)
        .bind(flags.1)
        .bind(flags.2)
        .fetch_one(&mut su)
        .await
        .expect("contact")
    }

    async fn consent_to_texts(&self, patient: PatientId, user: UserId) {
        let mut su = self.su().await;
        let document: Uuid = sqlx::query_scalar(
            "INSERT INTO consent_documents (organization_id, kind, version, title, body, effective_at)
             VALUES ($1, 'sms', '1', 'Text messages', 'We may text you.', now() - interval '1 day')
             ON CONFLICT (organization_id, kind, version) DO UPDATE SET title = EXCLUDED.title RETURNING id",
        )
        .bind(self.org())
        .fetch_one(&mut su)
        .await
        .expect("document");
        sqlx::query("INSERT INTO consents (organization_id, user_id, document_id, patient_id) VALUES ($1, $2, $3, $4)")
            .bind(self.org())
            .bind(user)
            .bind(document)
            .bind(patient)
            .execute(&mut su)
            .await
            .expect("consent");
    }

    async fn appointment(&self, patient: PatientId, starts_at: DateTime<Utc>) -> Uuid {
        let mut su = self.su().await;
        sqlx::query_scalar(
            "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at, reason)
             VALUES ($1, $2, $3, $4, $5, $5 + interval '30 minutes', 'CANARY-REASON chest pain') RETURNING id",
        )
        .bind(self.org())
        .bind(patient)
        .bind(self.tenants.a.provider)
        .bind(self.visit_kind)
        .bind(starts_at)
        .fetch_one(&mut su)
        .await
        .expect("appointment")
    }

    /// Plans the due reminders and queues their sends, without running them.
    async fn plan_only(&self) {
        let now = self.app.clock.now();
        let context = lockdev::db::tenant::TenantContext::system(self.org());
        let mut tx = lockdev::db::tenant::begin_tenant(&self.app.pool, &context).await.expect("tx");
        for id in lockdev::notify::reminders::plan(&mut tx, &[72, 24], now).await.expect("plan") {
            lockdev::notify::jobs::queue_send(&mut tx, self.org(), id, now).await.expect("queue");
        }
        tx.commit().await.expect("commit");
    }

    /// What the recurring planner does for this clinic, then every send that is due.
    async fn plan_and_send(&self) {
        let mut tx =
            lockdev::db::tenant::begin_system(&self.app.pool, &Default::default()).await.expect("tx");
        enqueue(
            &mut tx,
            &NewJob::new("reminders.plan", json!({})).for_organization(self.org()),
            self.app.clock.now(),
        )
        .await
        .expect("enqueue");
        tx.commit().await.expect("commit");
        self.app.run_jobs().await;
    }

    /// (status, channel, lead_hours, block_reason) of every notification, oldest first.
    async fn notifications(&self) -> Vec<(String, Option<String>, Option<i32>, Option<String>)> {
        let mut su = self.su().await;
        sqlx::query_as(
            "SELECT status, channel, lead_hours, block_reason FROM notifications ORDER BY created_at, id",
        )
        .fetch_all(&mut su)
        .await
        .expect("notifications")
    }

    /// (channel, to, body) of the development phone outbox, oldest first.
    async fn outbox(&self) -> Vec<(String, String, String)> {
        let mut su = self.su().await;
        sqlx::query_as("SELECT channel, to_number, body FROM dev_phone_outbox ORDER BY created_at, id")
            .fetch_all(&mut su)
            .await
            .expect("outbox")
    }

    fn set_clock(&self, at: DateTime<Utc>) {
        let now = self.app.clock.now();
        if at > now {
            self.app.clock.advance(at - now);
        } else {
            self.app.clock.advance(-(now - at));
        }
    }
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("instant")
}

#[tokio::test]
async fn reminders_are_planned_once_per_lead_through_clock_jumps_and_a_dst_change() {
    // JOB-06. Leads 72 h and 24 h; the appointment is Monday 2027-03-15 09:00 EDT
    // (13:00 UTC); the clocks in New York spring forward on Sunday 2027-03-14.
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let (patient, _) = clinic.patient("Dana", "Reyes").await;
    clinic.contact(patient, "email", "dana@example.org", (false, false, true)).await;
    let start = at("2027-03-15T13:00:00Z");
    clinic.appointment(patient, start).await;

    clinic.set_clock(at("2027-03-12T12:59:00Z"));
    clinic.plan_and_send().await;
    assert!(clinic.notifications().await.is_empty(), "one minute early: nothing");

    clinic.set_clock(at("2027-03-12T13:00:00Z"));
    clinic.plan_and_send().await;
    clinic.plan_and_send().await;
    assert_eq!(clinic.notifications().await.len(), 1, "the 72-hour reminder, once");

    // The clock jumps past the 24-hour mark (across the DST change), then back again.
    clinic.set_clock(at("2027-03-14T20:00:00Z"));
    clinic.plan_and_send().await;
    clinic.set_clock(at("2027-03-13T09:00:00Z"));
    clinic.plan_and_send().await;
    clinic.set_clock(at("2027-03-14T21:00:00Z"));
    clinic.plan_and_send().await;
    let sent = clinic.notifications().await;
    let leads: Vec<Option<i32>> = sent.iter().map(|n| n.2).collect();
    assert_eq!(leads, [Some(72), Some(24)], "no reminder skipped, none repeated: {sent:?}");
    assert!(sent.iter().all(|n| n.0 == "sent" && n.1.as_deref() == Some("email")));
    // Both reminders name 9:00 AM local: the 72-hour one was written in EST, the
    // appointment is in EDT.
    let mail = clinic.app.mailbox().await;
    let reminders: Vec<&String> =
        mail.iter().filter(|(_, s, _)| s == "Appointment reminder").map(|(_, _, t)| t).collect();
    assert_eq!(reminders.len(), 2);
    for text in reminders {
        assert!(text.contains("Mon Mar 15 at 9:00 AM"), "{text}");
    }

    // An appointment booked inside the 24-hour window gets one reminder, not two.
    let late = clinic.appointment(patient, at("2027-03-15T18:00:00Z")).await;
    clinic.plan_and_send().await;
    let mut su = clinic.su().await;
    let leads: Vec<i32> = sqlx::query_scalar("SELECT lead_hours FROM notifications WHERE subject_id = $1")
        .bind(late)
        .fetch_all(&mut su)
        .await
        .expect("leads");
    assert_eq!(leads, [24]);
}

#[tokio::test]
async fn the_gate_decides_again_at_send_time_and_a_blocked_reminder_raises_a_task_and_an_audit_event() {
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let (safe, safe_user) = clinic.patient("Ana", "Garcia").await;
    clinic.contact(safe, "mobile", "+16175550111", (true, false, false)).await;
    clinic.consent_to_texts(safe, safe_user).await;
    let (flipped, flipped_user) = clinic.patient("Maria", "Lopez").await;
    let mobile = clinic.contact(flipped, "mobile", "+16175550122", (true, false, false)).await;
    clinic.consent_to_texts(flipped, flipped_user).await;
    clinic.contact(flipped, "home", "+16175550102", (false, false, false)).await;
    let soon = clinic.app.clock.now() + TimeDelta::hours(20);
    clinic.appointment(safe, soon).await;
    clinic.appointment(flipped, soon + TimeDelta::hours(1)).await;

    // Planned (and queued) while Maria's mobile was safe …
    clinic.plan_only().await;
    let mut su = clinic.su().await;
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE kind = 'notify.send'")
            .fetch_one(&mut su)
            .await
            .expect("n"),
        2
    );
    // … then marked unsafe before the send ran.
    sqlx::query("UPDATE contact_methods SET is_safe_for_sms = false WHERE id = $1")
        .bind(mobile)
        .execute(&mut su)
        .await
        .expect("flip");
    clinic.app.run_jobs().await;

    let outbox = clinic.outbox().await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!((outbox[0].0.as_str(), outbox[0].1.as_str()), ("sms", "+16175550111"));
    let (reason, task): (String, String) = sqlx::query_as(
        "SELECT n.block_reason, t.summary FROM notifications n JOIN staff_tasks t ON t.notification_id = n.id
          WHERE n.patient_id = $1 AND n.status = 'blocked' AND t.done_at IS NULL",
    )
    .bind(flipped)
    .fetch_one(&mut su)
    .await
    .expect("blocked with a task");
    assert!(reason.contains("mobile number is not marked safe for texts"), "{reason}");
    assert!(reason.contains("home number is not marked safe for voicemail"), "{reason}");
    assert!(task.contains(&reason), "{task}");

    // CON-05: every attempt audited: channel, number hash, flag version, outcome.
    let events: Vec<(String, String, Option<Uuid>, serde_json::Value)> = sqlx::query_as(
        "SELECT action, outcome, patient_id, details FROM audit_events WHERE action LIKE 'message_%' ORDER BY occurred_at",
    )
    .fetch_all(&mut su)
    .await
    .expect("audit");
    assert_eq!(events.len(), 2, "{events:?}");
    let sent = events.iter().find(|e| e.0 == "message_sent").expect("sent audited");
    assert_eq!(sent.1, "success");
    assert_eq!(sent.2, Some(safe.as_uuid()));
    assert_eq!(sent.3["channel"], "sms");
    assert_eq!(sent.3["destination_hash"], lockdev::notify::destination_hash("+16175550111"));
    assert!(sent.3["safety_version"].is_string());
    // The whole number, not a fragment: "555" alone turns up by chance in the hex hash.
    let details = sent.3.to_string();
    assert!(!details.contains("6175550111") && !details.contains("5550111"), "no number in the audit record");
    let blocked = events.iter().find(|e| e.0 == "message_blocked").expect("block audited");
    assert_eq!((blocked.1.as_str(), blocked.2), ("denied", Some(flipped.as_uuid())));
    assert_eq!(blocked.3["reason"], reason);
}

#[tokio::test]
async fn texts_and_calls_wait_for_the_contact_window_in_the_patients_time_zone() {
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let mut su = clinic.su().await;
    sqlx::query(
        "UPDATE organizations SET contact_window_start = '08:00', contact_window_end = '21:00' WHERE id = $1",
    )
    .bind(clinic.org())
    .execute(&mut su)
    .await
    .expect("window");
    let (patient, _) = clinic.patient("Lee", "Park").await;
    sqlx::query("UPDATE patients SET timezone = 'America/Los_Angeles' WHERE id = $1")
        .bind(patient)
        .execute(&mut su)
        .await
        .expect("tz");
    clinic.contact(patient, "home", "+13105550123", (false, true, false)).await;
    // 23:30 in Los Angeles (07:30 UTC next day), appointment the next afternoon.
    clinic.set_clock(at("2027-01-20T07:30:00Z"));
    clinic.appointment(patient, at("2027-01-20T22:00:00Z")).await;
    clinic.plan_and_send().await;
    assert!(clinic.outbox().await.is_empty(), "no call at 23:30");
    let waiting: DateTime<Utc> =
        sqlx::query_scalar("SELECT run_at FROM jobs WHERE kind = 'notify.send' AND state = 'queued'")
            .fetch_one(&mut su)
            .await
            .expect("deferred");
    assert_eq!(waiting, at("2027-01-20T16:00:00Z"), "08:00 in Los Angeles");
    clinic.set_clock(waiting);
    clinic.app.run_jobs().await;
    let outbox = clinic.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].0, "voice");
}

#[tokio::test]
async fn random_contact_configurations_never_reach_a_channel_not_flagged_safe() {
    // CON-01 through the whole dispatcher: planner, jobs, gate, channels.
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261123);
    let soon = clinic.app.clock.now() + TimeDelta::hours(10);
    let mut stop_numbers = Vec::new();
    for i in 0..40 {
        let (patient, user) = clinic.patient(&format!("Rand{i}"), "Person").await;
        for n in 0..rng.random_range(0..4) {
            let kind = ["mobile", "home", "work", "email"][rng.random_range(0..4)];
            let value = if kind == "email" {
                format!("r{i}-{n}@example.org")
            } else {
                format!("+1617555{:04}", i * 10 + n)
            };
            let flags = (
                kind == "mobile" && rng.random_bool(0.5),
                kind != "email" && rng.random_bool(0.4),
                kind == "email" && rng.random_bool(0.5),
            );
            clinic.contact(patient, kind, &value, flags).await;
            if kind == "mobile" && rng.random_bool(0.2) {
                stop_numbers.push(value);
            }
        }
        if rng.random_bool(0.6) {
            clinic.consent_to_texts(patient, user).await;
        }
        clinic.appointment(patient, soon + TimeDelta::minutes(i * 30)).await;
    }
    let mut su = clinic.su().await;
    for number in &stop_numbers {
        sqlx::query("INSERT INTO sms_opt_outs (phone, opted_out, keyword) VALUES ($1, true, 'STOP') ON CONFLICT DO NOTHING")
            .bind(number)
            .execute(&mut su)
            .await
            .expect("stop");
    }
    clinic.plan_and_send().await;

    let rows: Vec<(String, Option<String>, Option<Uuid>, Uuid)> =
        sqlx::query_as("SELECT status, channel, contact_method_id, patient_id FROM notifications")
            .fetch_all(&mut su)
            .await
            .expect("rows");
    assert_eq!(rows.len(), 40);
    let (mut sent, mut blocked) = (0, 0);
    for (status, channel, contact, patient) in rows {
        // Whether this patient had any usable contact at all.
        let usable: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM contact_methods c WHERE c.patient_id = $1 AND (
                (c.is_safe_for_sms AND NOT EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = c.value AND o.opted_out)
                  AND EXISTS (SELECT 1 FROM consents k JOIN consent_documents d ON d.id = k.document_id
                               WHERE k.patient_id = c.patient_id AND d.kind = 'sms' AND k.withdrawn_at IS NULL))
                OR c.is_safe_for_voicemail OR c.is_safe_for_email))",
        )
        .bind(patient)
        .fetch_one(&mut su)
        .await
        .expect("usable");
        match status.as_str() {
            "sent" => {
                sent += 1;
                let (kind, sms, voicemail, email, value): (String, bool, bool, bool, String) = sqlx::query_as(
                    "SELECT kind, is_safe_for_sms, is_safe_for_voicemail, is_safe_for_email, value FROM contact_methods WHERE id = $1",
                )
                .bind(contact.expect("a contact"))
                .fetch_one(&mut su)
                .await
                .expect("contact");
                match channel.as_deref() {
                    Some("sms") => assert!(kind == "mobile" && sms && !stop_numbers.contains(&value)),
                    Some("voice") => assert!(kind != "email" && voicemail),
                    Some("email") => assert!(kind == "email" && email),
                    other => panic!("unknown channel {other:?}"),
                }
            }
            "blocked" => {
                blocked += 1;
                assert!(!usable, "blocked although a safe contact existed");
            }
            other => {
                let errors: Vec<serde_json::Value> =
                    sqlx::query_scalar("SELECT details FROM audit_events WHERE action = 'message_failed'")
                        .fetch_all(&mut su)
                        .await
                        .expect("errors");
                panic!("unexpected status {other}: {errors:?}")
            }
        }
    }
    assert!(sent > 5 && blocked > 5, "the sample covers both outcomes: {sent} sent, {blocked} blocked");
    // What actually left: only to numbers flagged for that channel.
    for (channel, to, _) in clinic.outbox().await {
        let flag = if channel == "sms" { "is_safe_for_sms" } else { "is_safe_for_voicemail" };
        let ok: bool =
            sqlx::query_scalar(&format!("SELECT bool_or({flag}) FROM contact_methods WHERE value = $1"))
                .bind(&to)
                .fetch_one(&mut su)
                .await
                .expect("flag");
        assert!(ok, "{channel} to {to} which is not flagged");
    }
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM staff_tasks")
            .fetch_one(&mut su)
            .await
            .expect("tasks"),
        blocked,
        "each blocked message raised a task"
    );
}

#[tokio::test]
async fn texts_calls_and_emails_carry_no_clinic_provider_visit_reason_or_name() {
    // CON-03, with canaries in every field a template could be tempted to use.
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let mut su = clinic.su().await;
    sqlx::query("UPDATE organizations SET name = 'CANARY-CLINIC Oncology Center' WHERE id = $1")
        .bind(clinic.org())
        .execute(&mut su)
        .await
        .expect("name");
    sqlx::query("UPDATE users SET display_name = 'CANARY-PROVIDER Oncologist' WHERE id = $1")
        .bind(clinic.tenants.a.provider_user)
        .execute(&mut su)
        .await
        .expect("provider");
    sqlx::query("UPDATE appointment_types SET name = 'CANARY-TYPE Chemotherapy' WHERE id = $1")
        .bind(clinic.visit_kind)
        .execute(&mut su)
        .await
        .expect("type");
    let soon = clinic.app.clock.now() + TimeDelta::hours(20);
    let mut numbers = HashSet::new();
    for (i, (kind, value, flags)) in [
        ("mobile", "+16175550201", (true, false, false)),
        ("home", "+16175550202", (false, true, false)),
        ("email", "canary@example.org", (false, false, true)),
    ]
    .into_iter()
    .enumerate()
    {
        let (patient, user) = clinic.patient(&format!("CANARY-GIVEN{i}"), "CANARY-FAMILY").await;
        clinic.contact(patient, kind, value, flags).await;
        clinic.consent_to_texts(patient, user).await;
        clinic.appointment(patient, soon + TimeDelta::hours(i as i64)).await;
        numbers.insert(value);
    }
    clinic.plan_and_send().await;
    let outbox = clinic.outbox().await;
    let mail: Vec<String> = clinic
        .app
        .mailbox()
        .await
        .into_iter()
        .filter(|(to, _, _)| to == "canary@example.org")
        .map(|(_, subject, text)| format!("{subject}\n{text}"))
        .collect();
    assert_eq!(outbox.len(), 2);
    assert_eq!(mail.len(), 1);
    let mut html: Vec<String> =
        sqlx::query_scalar("SELECT html_body FROM dev_mailbox").fetch_all(&mut su).await.expect("html");
    let bodies: Vec<String> =
        outbox.into_iter().map(|(_, _, b)| b).chain(mail).chain(html.drain(..)).collect();
    for body in &bodies {
        for canary in ["CANARY", "Oncology", "Chemotherapy", "chest pain", "Follow-up", "Alpha"] {
            assert!(!body.contains(canary), "{canary} in {body}");
        }
        assert!(body.contains("(617) 555-0100"), "the call-back number: {body}");
    }
    assert!(
        bodies.iter().any(|b| b.starts_with("Reminder:") && b.contains("Reply STOP")),
        "texts say how to stop"
    );
}

#[tokio::test]
async fn a_dependents_reminder_goes_to_the_guardian_unless_the_patient_asked_for_confidential_communication()
{
    // CON-04.
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let mut su = clinic.su().await;
    // The guardian is a patient of the clinic too, with a number safe for voicemail …
    let (guardian_chart, guardian) = clinic.patient("Rosa", "Garcia").await;
    clinic.contact(guardian_chart, "mobile", "+16175550301", (false, true, false)).await;
    // … and the child is managed by a proxy, with no contact of their own.
    let child = PatientId::new();
    sqlx::query(
        "INSERT INTO patients (organization_id, id, mrn, given_name, family_name, date_of_birth, legal_sex, is_self_managed)
         VALUES ($1, $2, 'CHILD-1', 'Leo', 'Garcia', '2016-05-05', 'male', false)",
    )
    .bind(clinic.org())
    .bind(child)
    .execute(&mut su)
    .await
    .expect("child");
    let grant: Uuid = sqlx::query_scalar(
        "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, can_schedule, status, starts_at,
                                                messages_safe_at, messages_safe_by, messages_safe_email)
         VALUES ($1, $2, $3, 'parent', true, 'active', now() - interval '1 day',
                 now(), $3, (SELECT email FROM users WHERE id = $3)) RETURNING id",
    )
    .bind(clinic.org())
    .bind(child)
    .bind(guardian)
    .fetch_one(&mut su)
    .await
    .expect("grant");
    let soon = clinic.app.clock.now() + TimeDelta::hours(20);
    clinic.appointment(child, soon).await;
    clinic.plan_and_send().await;
    let outbox = clinic.outbox().await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!((outbox[0].0.as_str(), outbox[0].1.as_str()), ("voice", "+16175550301"));
    assert!(outbox[0].2.contains("someone in your care") && !outbox[0].2.contains("Leo"));
    let recipient: Option<Uuid> = sqlx::query_scalar("SELECT recipient_user_id FROM notifications")
        .fetch_one(&mut su)
        .await
        .expect("r");
    assert_eq!(recipient, Some(guardian.as_uuid()));

    // A grant without scheduling does not carry appointment reminders.
    sqlx::query("UPDATE patient_proxy_assignments SET can_schedule = false WHERE id = $1")
        .bind(grant)
        .execute(&mut su)
        .await
        .expect("scope");
    clinic.appointment(child, soon + TimeDelta::hours(1)).await;
    clinic.plan_and_send().await;
    assert_eq!(clinic.outbox().await.len(), 1, "nothing more went out");
    sqlx::query("UPDATE patient_proxy_assignments SET can_schedule = true WHERE id = $1")
        .bind(grant)
        .execute(&mut su)
        .await
        .expect("scope");

    // The patient's confidential-communication request overrides the default route.
    sqlx::query("UPDATE patients SET confidential_communication = true WHERE id = $1")
        .bind(child)
        .execute(&mut su)
        .await
        .expect("confidential");
    clinic.appointment(child, soon + TimeDelta::hours(2)).await;
    clinic.plan_and_send().await;
    assert_eq!(clinic.outbox().await.len(), 1, "the guardian is not called");
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT block_reason FROM notifications WHERE status = 'blocked' ORDER BY created_at",
    )
    .fetch_all(&mut su)
    .await
    .expect("reasons");
    assert_eq!(reasons.len(), 2);
    assert!(reasons[0].contains("do not cover scheduling"), "{}", reasons[0]);
    assert!(reasons[1].contains("confidential communication"), "{}", reasons[1]);
}

#[tokio::test]
async fn a_reminder_for_a_sensitive_visit_never_goes_to_a_proxy() {
    // AZ-13 / CON-04: the visit's type is sensitive, or the visit was marked so.
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let mut su = clinic.su().await;
    let (guardian_chart, guardian) = clinic.patient("Rosa", "Garcia").await;
    clinic.contact(guardian_chart, "mobile", "+16175550302", (false, true, false)).await;
    let child = PatientId::new();
    sqlx::query(
        "INSERT INTO patients (organization_id, id, mrn, given_name, family_name, date_of_birth, legal_sex, is_self_managed)
         VALUES ($1, $2, 'CHILD-2', 'Mia', 'Garcia', '2012-05-05', 'female', false)",
    )
    .bind(clinic.org())
    .bind(child)
    .execute(&mut su)
    .await
    .expect("child");
    sqlx::query(
        "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, can_schedule, can_view_clinical, status, starts_at,
                                                messages_safe_at, messages_safe_by, messages_safe_email)
         VALUES ($1, $2, $3, 'parent', true, true, 'active', now() - interval '1 day',
                 now(), $3, (SELECT email FROM users WHERE id = $3))",
    )
    .bind(clinic.org())
    .bind(child)
    .bind(guardian)
    .execute(&mut su)
    .await
    .expect("grant");
    let soon = clinic.app.clock.now() + TimeDelta::hours(20);
    let by_type = clinic.appointment(child, soon).await;
    sqlx::query("UPDATE appointment_types SET sensitive = true WHERE id = $1")
        .bind(clinic.visit_kind)
        .execute(&mut su)
        .await
        .expect("sensitive type");
    clinic.plan_and_send().await;
    sqlx::query("UPDATE appointment_types SET sensitive = false WHERE id = $1")
        .bind(clinic.visit_kind)
        .execute(&mut su)
        .await
        .expect("back");
    let marked = clinic.appointment(child, soon + TimeDelta::hours(1)).await;
    sqlx::query("UPDATE appointments SET sensitive = true WHERE id = $1")
        .bind(marked)
        .execute(&mut su)
        .await
        .expect("marked");
    clinic.plan_and_send().await;
    assert!(clinic.outbox().await.is_empty(), "nothing went to the guardian");
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT block_reason FROM notifications WHERE subject_id = ANY($1) AND status = 'blocked'",
    )
    .bind(vec![by_type, marked])
    .fetch_all(&mut su)
    .await
    .expect("reasons");
    assert_eq!(reasons.len(), 2, "both held back with a reason, not dropped");
    assert!(reasons.iter().all(|r| r.contains("sensitive")), "{reasons:?}");
}

#[tokio::test]
async fn a_reminder_for_a_cancelled_appointment_is_withdrawn_not_sent() {
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let (patient, _) = clinic.patient("Sam", "Ito").await;
    clinic.contact(patient, "email", "sam@example.org", (false, false, true)).await;
    let appointment = clinic.appointment(patient, clinic.app.clock.now() + TimeDelta::hours(5)).await;
    let mut su = clinic.su().await;
    clinic.plan_only().await;
    sqlx::query("UPDATE appointments SET status = 'cancelled', cancelled_at = now() WHERE id = $1")
        .bind(appointment)
        .execute(&mut su)
        .await
        .expect("cancel");
    clinic.app.run_jobs().await;
    let statuses: Vec<String> = clinic.notifications().await.into_iter().map(|n| n.0).collect();
    assert_eq!(statuses, ["withdrawn"]);
    assert!(clinic.app.mailbox().await.iter().all(|(to, _, _)| to != "sam@example.org"));
}

// ---- inbound keywords ------------------------------------------------------------------

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:lockdev-inbound-texts";

fn fixture(name: &str) -> std::path::PathBuf {
    crate::helpers::repo_root().join("tests/fixtures").join(name)
}

/// An SNS notification carrying an inbound text, signed (version 2) with the test key.
fn signed_envelope(from: &str, body: &str, topic: &str) -> serde_json::Value {
    signed_envelope_at(from, body, topic, Utc::now(), "2")
}

/// The same, sent at `sent`, claiming signature version `version` ("1": SHA-1).
fn signed_envelope_at(
    from: &str,
    body: &str,
    topic: &str,
    sent: DateTime<Utc>,
    version: &str,
) -> serde_json::Value {
    let message = json!({
        "originationNumber": from,
        "destinationNumber": "+16175550999",
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": body,
        "inboundMessageId": Uuid::new_v4().to_string(),
    })
    .to_string();
    let mut envelope = json!({
        "Type": "Notification",
        "MessageId": Uuid::new_v4().to_string(),
        "TopicArn": topic,
        "Message": message,
        "Timestamp": sent.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "SignatureVersion": version,
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
    });
    let canonical: String = ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
        .iter()
        .map(|k| format!("{k}\n{}\n", envelope[*k].as_str().expect("field")))
        .collect();
    let key = std::fs::read(fixture("sns-test-key.pk8")).expect("test key");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&key).expect("key");
    let mut signature = vec![0; pair.public().modulus_len()];
    // Signed with SHA-256 whatever the version says (ring signs no SHA-1): a version-1
    // message is refused for its version, before its signature is looked at.
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        canonical.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    use base64::Engine as _;
    envelope["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature));
    envelope
}

#[tokio::test]
async fn a_signed_stop_stops_texts_at_once_confirms_once_and_start_resumes_them() {
    let cert = fixture("sns-test-cert.pem");
    let app = spawn_app()
        .env("LOCKDEV_SMS_INBOUND_TOPIC_ARN", TOPIC)
        .env("LOCKDEV_SNS_CERTIFICATE_FILE", cert.to_str().expect("path"))
        .spawn()
        .await;
    let clinic = Clinic::new(app).await;
    let (patient, user) = clinic.patient("Ines", "Moreau").await;
    clinic.contact(patient, "mobile", "+16175550401", (true, false, false)).await;
    clinic.consent_to_texts(patient, user).await;
    let post = |envelope: serde_json::Value| {
        let app = &clinic.app;
        async move {
            app.client
                .post(app.url("/hooks/sms/inbound"))
                .header("content-type", "text/plain; charset=UTF-8")
                .body(envelope.to_string())
                .send()
                .await
                .expect("post")
                .status()
        }
    };
    let mut su = clinic.su().await;

    // Forged or foreign messages change nothing.
    let mut forged = signed_envelope("+16175550401", "STOP", TOPIC);
    forged["Message"] = json!(forged["Message"].as_str().expect("m").replace("STOP", "START"));
    assert_eq!(post(forged).await, 403);
    assert_eq!(
        post(signed_envelope("+16175550401", "STOP", "arn:aws:sns:us-east-1:999999999999:other")).await,
        403
    );
    let mut unsigned = signed_envelope("+16175550401", "STOP", TOPIC);
    unsigned["Signature"] = json!("AAAA");
    assert_eq!(post(unsigned).await, 403);
    assert_eq!(opted_out(&mut su).await, None);

    assert_eq!(post(signed_envelope("+1 (617) 555-0401", " stop ", TOPIC)).await, 200);
    assert_eq!(opted_out(&mut su).await, Some(true));
    assert_eq!(post(signed_envelope("+16175550401", "STOPALL", TOPIC)).await, 200, "a repeat is fine");
    let confirmations: Vec<(String, String, String)> = clinic.outbox().await;
    assert_eq!(confirmations.len(), 1, "confirmed once: {confirmations:?}");
    assert!(confirmations[0].2.contains("no longer receive"));
    assert_eq!(post(signed_envelope("+16175550401", "please call me", TOPIC)).await, 200);

    // The gate sees it at once: the reminder is blocked with the reason.
    clinic.appointment(patient, clinic.app.clock.now() + TimeDelta::hours(3)).await;
    clinic.plan_and_send().await;
    let notes = clinic.notifications().await;
    assert_eq!(notes[0].0, "blocked");
    assert!(notes[0].3.as_deref().expect("reason").contains("replied STOP"), "{notes:?}");

    assert_eq!(post(signed_envelope("+16175550401", "START", TOPIC)).await, 200);
    assert_eq!(opted_out(&mut su).await, Some(false));
    let outbox = clinic.outbox().await;
    assert_eq!(outbox.len(), 2);
    assert!(outbox[1].2.contains("receive text messages from this number again"));
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'text_opt_out_changed'")
            .fetch_one(&mut su)
            .await
            .expect("audit");
    assert_eq!(audited, 2, "each change audited, the repeat not");
}

#[tokio::test]
async fn an_old_a_repeated_or_a_sha1_signed_inbound_message_changes_nothing() {
    // WH-02 for SNS: older than an hour, the same MessageId again, or signed with SHA-1
    // (our topic sends version 2) — refused or a no-op; each failed before.
    let cert = fixture("sns-test-cert.pem");
    let app = spawn_app()
        .env("LOCKDEV_SMS_INBOUND_TOPIC_ARN", TOPIC)
        .env("LOCKDEV_SNS_CERTIFICATE_FILE", cert.to_str().expect("path"))
        .spawn()
        .await;
    let clinic = Clinic::new(app).await;
    let (patient, user) = clinic.patient("Nora", "Quinn").await;
    clinic.contact(patient, "mobile", "+16175550401", (true, false, false)).await;
    clinic.consent_to_texts(patient, user).await;
    let post = |envelope: serde_json::Value| {
        let app = &clinic.app;
        async move {
            app.client
                .post(app.url("/hooks/sms/inbound"))
                .header("content-type", "text/plain; charset=UTF-8")
                .body(envelope.to_string())
                .send()
                .await
                .expect("post")
                .status()
        }
    };
    let mut su = clinic.su().await;
    let now = clinic.app.clock.now();
    let old = signed_envelope_at("+16175550401", "STOP", TOPIC, now - TimeDelta::minutes(61), "2");
    assert_eq!(post(old).await, 403, "a captured message replayed an hour later");
    let sha1 = signed_envelope_at("+16175550401", "STOP", TOPIC, now, "1");
    assert_eq!(post(sha1).await, 403, "SHA-1 signatures are refused unless allowed");
    assert_eq!(opted_out(&mut su).await, None);
    // The same message twice: the second delivery does nothing (not even a second reply).
    let stop = signed_envelope("+16175550401", "STOP", TOPIC);
    assert_eq!(post(stop.clone()).await, 200);
    sqlx::query("UPDATE sms_opt_outs SET opted_out = false").execute(&mut su).await.expect("reset");
    assert_eq!(post(stop).await, 200, "answered, so SNS stops retrying");
    assert_eq!(opted_out(&mut su).await, Some(false), "the replay did not act again");
    assert_eq!(clinic.outbox().await.len(), 1, "one confirmation");
}

#[tokio::test]
async fn the_inbound_endpoint_is_closed_unless_a_topic_is_configured() {
    let app = spawn_app().spawn().await;
    let res = app
        .client
        .post(app.url("/hooks/sms/inbound"))
        .body(signed_envelope("+16175550401", "STOP", TOPIC).to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_dev_outbox_page_shows_what_left_and_only_in_development() {
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let (patient, user) = clinic.patient("Omar", "Haddad").await;
    clinic.contact(patient, "mobile", "+16175550501", (true, false, false)).await;
    clinic.consent_to_texts(patient, user).await;
    clinic.appointment(patient, clinic.app.clock.now() + TimeDelta::hours(2)).await;
    clinic.plan_and_send().await;
    let page = clinic.app.get("/dev/outbox").await.text().await.expect("page");
    assert!(page.contains("Text to +16175550501"), "{page}");
    assert!(page.contains("Reply STOP"));
}

async fn opted_out(su: &mut PgConnection) -> Option<bool> {
    sqlx::query_scalar::<_, bool>("SELECT opted_out FROM sms_opt_outs WHERE phone = '+16175550401'")
        .fetch_optional(su)
        .await
        .expect("opt-out")
}

#[tokio::test]
async fn remembered_sns_deliveries_are_forgotten_after_a_day() {
    // Replays are refused by id for as long as a message is young enough to be taken in
    // (an hour), and by age after that: ids older than a day are pruned by a recurring job.
    let app = spawn_app().spawn().await;
    let mut su = app.database().superuser().await;
    let now = app.clock.now();
    for (id, at) in
        [("old-message", now - TimeDelta::days(2)), ("recent-message", now - TimeDelta::minutes(5))]
    {
        sqlx::query("INSERT INTO sns_deliveries (message_id, received_at) VALUES ($1, $2)")
            .bind(id)
            .bind(at)
            .execute(&mut su)
            .await
            .expect("delivery");
    }
    lockdev::jobs::schedule::queue_due(&app.pool, &lockdev::app::job_kinds(&app.state.notifier), now)
        .await
        .expect("schedule");
    app.run_jobs().await;
    let kept: Vec<String> = sqlx::query_scalar("SELECT message_id FROM sns_deliveries ORDER BY 1")
        .fetch_all(&mut su)
        .await
        .expect("kept");
    assert_eq!(kept, ["recent-message"]);
}

/// Giving someone a chart's messages is deciding where messages go: a nurse (who may not
/// set contact safety) grants clinical access only; even the front desk's grant sends
/// nothing to the proxy until someone allowed confirms their address; and nobody makes
/// themselves a proxy under another address of theirs.
#[tokio::test]
async fn a_proxys_address_receives_a_childs_reminders_only_once_contact_safety_staff_confirm_it() {
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let a = &clinic.tenants.a;
    let app = &clinic.app;
    let mut su = clinic.su().await;
    let child = PatientId::new();
    sqlx::query(
        "INSERT INTO patients (organization_id, id, mrn, given_name, family_name, date_of_birth, legal_sex, is_self_managed)
         VALUES ($1, $2, 'CHILD-9', 'Mia', 'Stone', '2017-02-02', 'female', false)",
    )
    .bind(clinic.org())
    .bind(child)
    .execute(&mut su)
    .await
    .expect("child");
    let proxies = format!("/patients/{child}/proxies");
    let grant = |email: &'static str, confirm: bool| {
        let mut form = vec![
            ("display_name", "Sam Stone"),
            ("email", email),
            ("relationship", "parent"),
            ("scheduling", "1"),
        ];
        if confirm {
            form.push(("messages_safe", "1"));
        }
        form
    };

    // A nurse: no scopes that carry messages, and no address of their own.
    let (nurse, nurse_user) = member(app, a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    let res = app.post_form(&proxies, &grant("sam.stone@home.example", true)).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("only staff who decide where messages may go"));
    let nurse_email: String = sqlx::query_scalar("SELECT email::text FROM users WHERE id = $1")
        .bind(nurse_user)
        .fetch_one(&mut su)
        .await
        .expect("email");
    let (local, domain) = nurse_email.split_once('@').expect("address");
    let second_address = format!("{local}+kids@{domain}");
    let res = app
        .post_form(
            &proxies,
            &[
                ("display_name", "Me"),
                ("email", &second_address),
                ("relationship", "parent"),
                ("clinical", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("cannot invite yourself"));
    assert_eq!(count(app, "SELECT count(*) FROM patient_proxy_assignments").await, 0);

    // The front desk grants scheduling, without confirming the address yet.
    app.act_as(Some(a.desk_context()));
    assert_eq!(app.post_form(&proxies, &grant("sam.stone@home.example", false)).await.status(), 200);
    sqlx::query(
        "UPDATE patient_proxy_assignments SET status = 'active', accepted_at = now(), starts_at = now() - interval '1 day'",
    )
    .execute(&mut su)
    .await
    .expect("accepted");
    sqlx::query("UPDATE users SET email_verified_at = now() WHERE email = 'sam.stone@home.example'")
        .execute(&mut su)
        .await
        .expect("verified");
    clinic.appointment(child, app.clock.now() + TimeDelta::hours(20)).await;
    clinic.plan_and_send().await;
    let sent = clinic.notifications().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "blocked", "{sent:?}");
    assert!(sent[0].3.as_deref().unwrap_or_default().contains("not confirmed"), "{sent:?}");

    // Confirmed by the front desk: the next reminder goes to the parent's address.
    let assignment: Uuid = sqlx::query_scalar("SELECT id FROM patient_proxy_assignments")
        .fetch_one(&mut su)
        .await
        .expect("grant");
    let res = app
        .post_form(
            &format!("{proxies}/{}", ulid::Ulid::from(assignment)),
            &[("relationship", "parent"), ("scheduling", "1"), ("messages_safe", "1")],
        )
        .await;
    assert_eq!(res.status(), 200);
    clinic.appointment(child, app.clock.now() + TimeDelta::hours(21)).await;
    clinic.plan_and_send().await;
    let sent = clinic.notifications().await;
    assert_eq!(
        sent.last().map(|n| (n.0.as_str(), n.1.as_deref())),
        Some(("sent", Some("email"))),
        "{sent:?}"
    );

    // A nurse may take a message scope away but not give it back.
    let (nurse, _) = member(app, a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    let change = format!("{proxies}/{}", ulid::Ulid::from(assignment));
    assert_eq!(app.post_form(&change, &[("relationship", "parent")]).await.status(), 200);
    assert_eq!(
        app.post_form(&change, &[("relationship", "parent"), ("scheduling", "1")]).await.status(),
        422
    );
}

/// A dependent's chart usually carries a parent's numbers: a reminder for a sensitive
/// visit of a dependent goes by no channel to them. Only contacts the patient chose for
/// confidential messages carry it; with none, nothing is sent and the front desk gets a
/// task.
#[tokio::test]
async fn a_dependents_sensitive_reminder_goes_only_to_contacts_chosen_for_confidential_messages() {
    let clinic = Clinic::new(spawn_app().spawn().await).await;
    let mut su = clinic.su().await;
    let teen = PatientId::new();
    sqlx::query(
        "INSERT INTO patients (organization_id, id, mrn, given_name, family_name, date_of_birth, legal_sex, is_self_managed)
         VALUES ($1, $2, 'TEEN-1', 'Ava', 'Reyes', '2010-04-04', 'female', false)",
    )
    .bind(clinic.org())
    .bind(teen)
    .execute(&mut su)
    .await
    .expect("teen");
    // The family's home number and e-mail on the teen's chart, safe for calls and e-mail.
    clinic.contact(teen, "home", "+16175550303", (false, true, false)).await;
    clinic.contact(teen, "email", "reyes.family@home.example", (false, false, true)).await;
    let visit = clinic.appointment(teen, clinic.app.clock.now() + TimeDelta::hours(20)).await;
    sqlx::query("UPDATE appointments SET sensitive = true WHERE id = $1")
        .bind(visit)
        .execute(&mut su)
        .await
        .expect("sensitive");
    clinic.plan_and_send().await;
    assert!(clinic.outbox().await.is_empty(), "no call to the family's number");
    assert!(clinic.app.mailbox().await.iter().all(|(to, _, _)| to != "reyes.family@home.example"));
    let sent = clinic.notifications().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "blocked");
    assert!(sent[0].3.as_deref().unwrap_or_default().contains("confidential"), "{sent:?}");
    assert_eq!(
        count(
            &clinic.app,
            "SELECT count(*) FROM staff_tasks WHERE kind = 'message_blocked' AND done_at IS NULL"
        )
        .await,
        1,
        "the front desk is asked to reach the patient another way"
    );

    // The teen's own mobile, chosen for confidential messages: the next reminder goes there.
    let own = clinic.contact(teen, "mobile", "+16175550304", (false, true, false)).await;
    sqlx::query("UPDATE contact_methods SET is_confidential = true WHERE id = $1")
        .bind(own)
        .execute(&mut su)
        .await
        .expect("designated");
    let next = clinic.appointment(teen, clinic.app.clock.now() + TimeDelta::hours(21)).await;
    sqlx::query("UPDATE appointments SET sensitive = true WHERE id = $1")
        .bind(next)
        .execute(&mut su)
        .await
        .expect("sensitive");
    clinic.plan_and_send().await;
    let outbox = clinic.outbox().await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!((outbox[0].0.as_str(), outbox[0].1.as_str()), ("voice", "+16175550304"));
}
