//! The job queue against a real PostgreSQL: concurrent claims (JOB-02), crash durability
//! with the real binary killed by SIGKILL (JOB-01), a terminated database connection
//! (JOB-03), poison jobs (JOB-04), graceful shutdown (JOB-05), payload hygiene (JOB-07),
//! tenant isolation of job work (TEN-12), and the operators' CLI.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::TimeDelta;
use lockdev::clock::Clock as _;
use lockdev::db::ids::{JobId, OrganizationId};
use lockdev::db::tenant::{SystemContext, begin_system};
use lockdev::jobs::{NewJob, enqueue};
use rand::Rng as _;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, spawn_app};

/// Queues `count` probe jobs (platform work) with `payload`, in one transaction.
async fn queue_probes(app: &TestApp, count: usize, payload: serde_json::Value) -> Vec<JobId> {
    let mut tx = begin_system(&app.pool, &SystemContext::default()).await.expect("tx");
    let mut ids = Vec::new();
    for _ in 0..count {
        let id =
            enqueue(&mut tx, &NewJob::new("probe", payload.clone()), app.clock.now()).await.expect("enqueue");
        ids.push(id.expect("new job"));
    }
    tx.commit().await.expect("commit");
    ids
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut su).await.expect(sql)
}

async fn states(app: &TestApp) -> HashMap<String, i64> {
    let mut su = app.database().superuser().await;
    sqlx::query_as::<_, (String, i64)>("SELECT state, count(*) FROM jobs WHERE kind = 'probe' GROUP BY state")
        .fetch_all(&mut su)
        .await
        .expect("states")
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_workers_claiming_at_once_run_each_job_exactly_once() {
    let app = spawn_app().spawn().await;
    queue_probes(&app, 400, json!({})).await;
    let mut workers = Vec::new();
    for n in 0..8 {
        // Each worker with its own connections, as separate processes would have.
        let pool = lockdev::db::runtime_pool(&app.state.config.database).expect("pool");
        let registry = lockdev::app::job_kinds(&app.state.notifier).with(lockdev::bench::jobs::Probe);
        let context = lockdev::jobs::JobContext { pool, clock: app.clock.clone() };
        let config = lockdev::jobs::WorkerConfig {
            schedule: false,
            batch: if n % 2 == 0 { 1 } else { 8 },
            ..lockdev::jobs::WorkerConfig::named(format!("w{n}"))
        };
        let worker = lockdev::jobs::Worker::new(registry, context, config);
        workers.push(tokio::spawn(async move { worker.drain().await }));
    }
    let mut finished = 0;
    for worker in workers {
        finished += worker.await.expect("worker");
    }
    assert_eq!(finished, 400, "every job finished once across the workers");
    assert_eq!(states(&app).await.get("done"), Some(&400));
    assert_eq!(scalar(&app, "SELECT count(*) FROM job_probe_runs").await, 400, "no side effect twice");
    assert_eq!(scalar(&app, "SELECT count(DISTINCT job_id) FROM job_probe_runs").await, 400);
    assert!(
        scalar(&app, "SELECT count(DISTINCT split_part(worker, ':', 1)) FROM job_probe_runs").await > 1,
        "the work was shared"
    );
}

#[tokio::test]
async fn a_failing_job_backs_off_then_dies_with_its_error_and_a_panicking_one_does_not_stop_the_worker() {
    let app = spawn_app().spawn().await;
    let mut tx = begin_system(&app.pool, &SystemContext::default()).await.expect("tx");
    let poison = enqueue(
        &mut tx,
        &NewJob::new("probe", json!({ "fail_attempts": 99 })).max_attempts(3),
        app.clock.now(),
    )
    .await
    .expect("enqueue")
    .expect("id");
    let panics =
        enqueue(&mut tx, &NewJob::new("probe", json!({ "panic": true })).max_attempts(2), app.clock.now())
            .await
            .expect("enqueue")
            .expect("id");
    let flaky = enqueue(&mut tx, &NewJob::new("probe", json!({ "fail_attempts": 1 })), app.clock.now())
        .await
        .expect("enqueue")
        .expect("id");
    let unknown = enqueue(&mut tx, &NewJob::new("no.such.kind", json!({})), app.clock.now())
        .await
        .expect("enqueue")
        .expect("id");
    tx.commit().await.expect("commit");

    let job = |id: JobId| {
        let app = &app;
        async move {
            let mut su = app.database().superuser().await;
            sqlx::query_as::<_, (String, i32, Option<String>, chrono::DateTime<chrono::Utc>)>(
                "SELECT state, attempts, last_error, run_at FROM jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut su)
            .await
            .expect("job")
        }
    };

    assert_eq!(app.run_jobs().await, 4, "every job was attempted; the panic was contained");
    let (state, attempts, error, run_at) = job(poison).await;
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    assert!(error.expect("error kept").contains("fail attempt 1"));
    let wait = run_at - app.clock.now();
    assert!(
        wait >= TimeDelta::seconds(1) && wait <= TimeDelta::seconds(2),
        "first back-off about 1-2 s: {wait}"
    );
    assert_eq!(job(unknown).await.0, "dead", "an unknown kind is dead at once");
    assert!(job(unknown).await.2.expect("error").contains("no.such.kind"));
    assert_eq!(job(panics).await.0, "queued");
    assert!(job(panics).await.2.expect("error").contains("panicked"));

    // Nothing is due until the back-off passes.
    assert_eq!(app.run_jobs().await, 0);
    for _ in 0..4 {
        app.clock.advance(TimeDelta::hours(1));
        app.run_jobs().await;
    }
    let (state, attempts, error, _) = job(poison).await;
    assert_eq!((state.as_str(), attempts), ("dead", 3), "bounded attempts, then dead");
    assert!(error.expect("last error kept").contains("fail attempt 3"));
    assert_eq!(job(panics).await.0, "dead");
    assert_eq!(job(flaky).await.0, "done", "a transient failure is retried to success");
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM job_probe_runs").await,
        1,
        "only the flaky job took effect"
    );

    // The CLI shows the dead and gives one a fresh start.
    let env = cli_env(&app);
    let dead = lockdev_cli(&env, &["jobs", "dead"]);
    assert!(dead.contains(&poison.to_string()) && dead.contains("fail attempt 3"), "{dead}");
    let retried = lockdev_cli(&env, &["jobs", "retry", &poison.to_string()]);
    assert!(retried.contains("queued again"), "{retried}");
    assert_eq!(job(poison).await.0, "queued");
    assert!(lockdev_cli(&env, &["jobs", "list", "--state", "queued"]).contains(&poison.to_string()));
}

#[tokio::test]
async fn a_job_for_one_clinic_cannot_touch_another_clinics_rows_and_dies() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = crate::fixtures::two_tenants(&owner, 1).await;
    // A notification of clinic B …
    let mut su = app.database().superuser().await;
    let b_notification: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO notifications (organization_id, patient_id, purpose, template) VALUES ($1, $2, 'appointments', 'appointment_reminder') RETURNING id",
    )
    .bind(tenants.b.org)
    .bind(tenants.b.patients[0])
    .fetch_one(&mut su)
    .await
    .expect("notification");
    // … named in a job that runs as clinic A.
    let mut tx = begin_system(&app.pool, &SystemContext::default()).await.expect("tx");
    let crafted = enqueue(
        &mut tx,
        &NewJob::new(
            "notify.send",
            json!({ "notification_id": lockdev::db::ids::NotificationId::from_uuid(b_notification) }),
        )
        .for_organization(tenants.a.org),
        app.clock.now(),
    )
    .await
    .expect("enqueue")
    .expect("id");
    tx.commit().await.expect("commit");
    app.run_jobs().await;
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, last_error FROM jobs WHERE id = $1")
            .bind(crafted)
            .fetch_one(&mut su)
            .await
            .expect("job");
    assert_eq!(state, "dead");
    assert!(error.expect("error").contains("no such notification"));
    let status: String = sqlx::query_scalar("SELECT status FROM notifications WHERE id = $1")
        .bind(b_notification)
        .fetch_one(&mut su)
        .await
        .expect("row");
    assert_eq!(status, "pending", "clinic B's row is untouched");
    assert_eq!(scalar(&app, "SELECT count(*) FROM dev_phone_outbox").await, 0);
    assert_eq!(scalar(&app, "SELECT count(*) FROM staff_tasks").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_database_connection_mid_job_is_retried_without_a_partial_effect() {
    let app = spawn_app().spawn().await;
    let ids = queue_probes(&app, 1, json!({ "sleep_ms": 1500 })).await;
    let worker = app.worker("victim");
    let running = tokio::spawn(async move { worker.drain().await });
    // Wait until the probe holds its transaction open, then kill the backend serving it.
    let mut su = app.database().superuser().await;
    let mut killed = 0;
    for _ in 0..200 {
        killed = sqlx::query_scalar::<_, i64>(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND state = 'idle in transaction' AND query LIKE '%job_probe_runs%'",
        )
        .fetch_one(&mut su)
        .await
        .expect("terminate");
        if killed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(killed > 0, "found the job's connection");
    running.await.expect("the worker survives");
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM job_probe_runs").await,
        0,
        "the killed attempt left nothing"
    );
    // The pool replaces the dead connection; the retry (after its back-off) succeeds.
    app.clock.advance(TimeDelta::minutes(5));
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(states(&app).await.get("done"), Some(&1));
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM job_probe_runs WHERE job_id = $1")
        .bind(ids[0])
        .fetch_one(&mut su)
        .await
        .expect("runs");
    assert_eq!(runs, 1);
}

#[tokio::test]
async fn payloads_hold_identifiers_only_and_clinic_work_names_its_clinic() {
    // Every job this codebase queues in the other tests' flows is checked by kind here:
    // the reminder path (plan, send), account e-mail, and the recurring kinds.
    let app = spawn_app().spawn().await;
    lockdev::jobs::schedule::queue_due(
        &app.pool,
        &lockdev::app::job_kinds(&app.state.notifier),
        app.clock.now(),
    )
    .await
    .expect("schedule");
    let owner = app.database().owner_pool().await;
    let tenants = crate::fixtures::two_tenants(&owner, 2).await;
    let mut su = app.database().superuser().await;
    let kind: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Visit', 30) RETURNING id",
    )
    .bind(tenants.a.org)
    .fetch_one(&mut su)
    .await
    .expect("type");
    let start = app.clock.now() + TimeDelta::hours(20);
    sqlx::query(
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at, reason)
         VALUES ($1, $2, $3, $4, $5, $5 + interval '30 minutes', 'private reason')",
    )
    .bind(tenants.a.org)
    .bind(tenants.a.patients[0])
    .bind(tenants.a.provider)
    .bind(kind)
    .bind(start)
    .execute(&mut su)
    .await
    .expect("appointment");
    // Plan (as the recurring job would), and send; an account e-mail too.
    app.run_jobs().await;
    let person = app.person("hygiene@example.org", "a long passphrase for hygiene").await;
    let _ = person;
    app.client
        .post(app.url("/password/forgot"))
        .form(&[("email", "hygiene@example.org"), ("csrf_token", &app.csrf_token().await)])
        .send()
        .await
        .expect("forgot");
    // The reset e-mail is queued just after the answer.
    for _ in 0..250 {
        if scalar(&app, "SELECT count(*) FROM jobs WHERE kind = 'email.account'").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let jobs: Vec<(String, Option<uuid::Uuid>, serde_json::Value)> =
        sqlx::query_as("SELECT kind, organization_id, payload FROM jobs")
            .fetch_all(&mut su)
            .await
            .expect("jobs");
    let kinds: Vec<&str> = jobs.iter().map(|(k, _, _)| k.as_str()).collect();
    for expected in ["reminders.plan_all", "reminders.plan", "notify.send", "email.account", "audit.seal"] {
        assert!(kinds.contains(&expected), "{expected} in {kinds:?}");
    }
    for (kind, org, payload) in &jobs {
        let object = payload.as_object().expect("payloads are objects");
        for (key, value) in object {
            let ok = match value {
                serde_json::Value::String(s) => s.len() == 26 && s.parse::<JobId>().is_ok(),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => true,
                _ => false,
            };
            assert!(ok, "{kind}: {key} = {value} is not an identifier");
        }
        let text = payload.to_string();
        for phi in ["Pat0", "ALPHA-CANARY", "+1617", "private reason", "hygiene@"] {
            assert!(!text.contains(phi), "{kind} payload holds {phi}: {text}");
        }
        if kind == "reminders.plan" {
            assert!(org.is_some(), "{kind} runs in a clinic");
        }
        if kind.starts_with("notify.") {
            assert_eq!(*org, Some(tenants.a.org.as_uuid()), "{kind} runs in the appointment's clinic");
        }
    }
}

// ---- the real binary -------------------------------------------------------------------

fn cli_env(app: &TestApp) -> Vec<(String, String)> {
    let db = app.database();
    vec![
        ("LOCKDEV_ENV".into(), "development".into()),
        ("LOCKDEV_DATABASE_URL".into(), db.runtime_url.clone()),
        ("LOCKDEV_LOG".into(), "warn".into()),
        ("LOCKDEV_LOG_FORMAT".into(), "text".into()),
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
    ]
}

fn lockdev_cli(env: &[(String, String)], args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lockdev"))
        .env_clear()
        .envs(env.iter().cloned())
        .args(args)
        .output()
        .expect("run");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn spawn_worker(env: &[(String, String)], extra: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_lockdev"))
        .env_clear()
        .envs(env.iter().cloned())
        .envs(extra.iter().copied())
        // The worker with the test's probe kind besides production's.
        .args(["bench", "worker"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the worker")
}

async fn wait_for(pool: &PgPool, sql: &str, want: i64, limit: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let mut tx = begin_system(pool, &SystemContext::default()).await.expect("tx");
        let got: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await.expect(sql);
        tx.commit().await.expect("commit");
        if got == want || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_with_sigkill_twenty_times_loses_no_job_and_repeats_no_effect() {
    let app = spawn_app().spawn().await;
    let mut rng = rand::rng();
    // A thousand jobs, some holding their transaction long enough for a kill to land inside it.
    let mut tx = begin_system(&app.pool, &SystemContext::default()).await.expect("tx");
    for i in 0..1000 {
        let sleep = if i % 10 == 0 { rng.random_range(50..300) } else { rng.random_range(0..5) };
        enqueue(&mut tx, &NewJob::new("probe", json!({ "sleep_ms": sleep })), chrono::Utc::now())
            .await
            .expect("enqueue");
    }
    tx.commit().await.expect("commit");
    let env = cli_env(&app);
    let fast_lease = [("LOCKDEV_JOB_LEASE_SECONDS", "2"), ("LOCKDEV_JOB_WORKERS", "4")];
    for _ in 0..20 {
        let mut child = spawn_worker(&env, &fast_lease);
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..700))).await;
        // SIGKILL: no chance to release anything.
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }
    let done_before_recovery =
        scalar(&app, "SELECT count(*) FROM jobs WHERE kind = 'probe' AND state = 'done'").await;
    assert!(
        done_before_recovery < 1000,
        "the kills landed while work remained ({done_before_recovery} done)"
    );
    let stranded = scalar(&app, "SELECT count(*) FROM jobs WHERE kind = 'probe' AND state = 'running'").await;

    // A survivor picks up everything, including jobs whose leases the dead held.
    let mut survivor = spawn_worker(&env, &fast_lease);
    let done = wait_for(
        &app.pool,
        "SELECT count(*) FROM jobs WHERE kind = 'probe' AND state = 'done'",
        1000,
        Duration::from_secs(120),
    )
    .await;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(survivor.id() as i32).expect("pid"),
        rustix::process::Signal::TERM,
    )
    .expect("sigterm");
    survivor.wait().expect("reap");
    assert_eq!(done, 1000, "0 jobs lost (leases left stranded by the kills: {stranded})");
    assert_eq!(scalar(&app, "SELECT count(*) FROM job_probe_runs").await, 1000, "0 duplicate side effects");
    assert_eq!(scalar(&app, "SELECT count(DISTINCT job_id) FROM job_probe_runs").await, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_claiming_and_finishes_or_hands_back_what_is_in_flight() {
    let app = spawn_app().spawn().await;
    let env = cli_env(&app);
    // Generous deadline: the in-flight jobs finish, nothing new is claimed.
    queue_probes(&app, 4, json!({ "sleep_ms": 1500 })).await;
    let mut child =
        spawn_worker(&env, &[("LOCKDEV_JOB_WORKERS", "4"), ("LOCKDEV_JOB_SHUTDOWN_SECONDS", "10")]);
    let running = wait_for(
        &app.pool,
        "SELECT count(*) FROM jobs WHERE state = 'running' AND kind = 'probe'",
        4,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(running, 4);
    queue_probes(&app, 3, json!({})).await;
    let term = |child: &Child| {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).expect("pid"),
            rustix::process::Signal::TERM,
        )
        .expect("sigterm");
    };
    term(&child);
    let status = child.wait().expect("exit");
    assert!(status.success(), "a clean exit: {status:?}");
    assert_eq!(scalar(&app, "SELECT count(*) FROM job_probe_runs").await, 4, "in-flight work finished");
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM jobs WHERE kind = 'probe' AND state = 'queued'").await,
        3,
        "nothing new was claimed"
    );

    // No deadline: in-flight work is abandoned (rolled back) and handed back at once.
    let mut su = app.database().superuser().await;
    sqlx::query("DELETE FROM jobs").execute(&mut su).await.expect("clear");
    queue_probes(&app, 2, json!({ "sleep_ms": 5000 })).await;
    child = spawn_worker(&env, &[("LOCKDEV_JOB_WORKERS", "2"), ("LOCKDEV_JOB_SHUTDOWN_SECONDS", "0")]);
    wait_for(&app.pool, "SELECT count(*) FROM jobs WHERE state = 'running'", 2, Duration::from_secs(20))
        .await;
    term(&child);
    assert!(child.wait().expect("exit").success());
    let back: Vec<(String, i32, Option<String>)> =
        sqlx::query_as("SELECT state, attempts, locked_by FROM jobs WHERE kind = 'probe'")
            .fetch_all(&mut su)
            .await
            .expect("jobs");
    assert_eq!(back.len(), 2);
    for (state, attempts, locked_by) in back {
        assert_eq!(
            (state.as_str(), attempts, locked_by),
            ("queued", 0, None),
            "released, the attempt not counted"
        );
    }
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM job_probe_runs").await,
        4,
        "the abandoned work left nothing"
    );
}

#[tokio::test]
async fn the_deep_health_check_fails_on_queue_lag_without_telling_outsiders_the_queue() {
    let app = spawn_app().spawn().await;
    let mut tx = begin_system(&app.pool, &SystemContext::default()).await.expect("tx");
    let old = chrono::Utc::now() - TimeDelta::minutes(10);
    enqueue(&mut tx, &NewJob::new("probe", json!({})).run_at(old), old).await.expect("enqueue");
    enqueue(&mut tx, &NewJob::new("probe", json!({})).run_at(chrono::Utc::now() + TimeDelta::hours(1)), old)
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let body: serde_json::Value = app.get("/health/deep").await.json().await.expect("json");
    assert_eq!(body["failing"], json!(["job_queue"]), "ten minutes of lag means no worker keeps up");
    // Which check fails is the whole answer: no depth, no lag, no detail (the log has them).
    assert!(body.get("queue").is_none(), "{body}");
    assert!(body["checks"].as_array().expect("checks").iter().all(|c| c.get("detail").is_none()), "{body}");
    let status = app.get("/status").await.text().await.expect("page");
    assert!(!status.contains("due,") && !status.contains("waiting"), "{status}");
    let _ = OrganizationId::new();
}

/// Each recurring kind declares its own rhythm (the scheduler names none of them).
#[tokio::test]
async fn every_recurring_kind_declares_how_often_it_runs() {
    let app = spawn_app().spawn().await;
    let recurring = lockdev::app::job_kinds(&app.state.notifier).recurring();
    let names: Vec<&str> = recurring.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "audit.partitions",
            "audit.seal",
            "jobs.prune",
            "licences.tasks_all",
            "reminders.plan_all",
            "sessions.cleanup",
            "sns.forget_deliveries"
        ]
    );
    assert!(recurring.iter().all(|(_, every)| *every >= TimeDelta::seconds(1)));
}
