//! Live schedule updates (Server-Sent Events) fanned out through LISTEN/NOTIFY: two
//! separate `lockdev serve` processes on one database both deliver a change made by a
//! third, to the clinic it belongs to and to no other.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::TimeDelta;
use lockdev::clock::Clock as _;
use uuid::Uuid;

use crate::fixtures::two_tenants;
use crate::helpers::{TestApp, spawn_app};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Another app process on the test's database.
async fn spawn_server(app: &TestApp) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_lockdev"))
        .env_clear()
        .envs([
            ("LOCKDEV_ENV", "development"),
            ("LOCKDEV_BIND", &format!("127.0.0.1:{port}")),
            ("LOCKDEV_PUBLIC_URL", "http://localhost"),
            ("LOCKDEV_DATABASE_URL", &app.database().runtime_url),
            ("LOCKDEV_JOB_WORKERS", "0"),
            ("LOCKDEV_RATE_LIMIT_PER_SECOND", "0"),
            ("LOCKDEV_LOG", "warn"),
        ])
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lockdev serve");
    let server = Server { child, port };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let up = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .header("host", "localhost")
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if up {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("lockdev serve did not start on {port}");
}

/// Opens `/schedule/events` with the session cookie; returns the streaming response.
async fn open_stream(url: &str, cookie: &str) -> reqwest::Response {
    let res = reqwest::Client::new()
        .get(url)
        .header("host", "localhost")
        .header("cookie", format!("lockdev_session={cookie}"))
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status(), 200, "{url}");
    assert!(res.headers()["content-type"].to_str().expect("type").starts_with("text/event-stream"));
    res
}

/// Reads events until one names `needle` or `limit` passes; returns everything read.
async fn read_until(stream: &mut reqwest::Response, needle: &str, limit: Duration) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    while !seen.contains(needle) {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            _ => break,
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_change_reaches_open_schedules_on_every_process_of_its_clinic_and_no_other() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    // A front-desk person of clinic A, signed in for real: the session lives in the
    // database, so every process honours it.
    let person = app.person("live.desk@alpha.example", "a long passphrase for the desk").await;
    let person = app.with_totp(person).await;
    app.member(tenants.a.org, &person, "admin_staff").await;
    let desk = app.browser();
    desk.sign_in_fully(&person, &app.clock).await;
    assert_eq!(desk.get("/schedule").await.status(), 200);
    let cookie = desk.session_cookie();

    let first = spawn_server(&app).await;
    let second = spawn_server(&app).await;
    let mut on_first =
        open_stream(&format!("http://127.0.0.1:{}/schedule/events", first.port), &cookie).await;
    let mut on_second =
        open_stream(&format!("http://127.0.0.1:{}/schedule/events", second.port), &cookie).await;
    // Clinic B's desk, on the test's own process.
    app.act_as(Some(tenants.b.desk_context()));
    let mut clinic_b = open_stream(&app.url("/schedule/events"), "").await;
    // The listeners are up once a first change goes round; give them a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A booking in clinic A, committed by yet another connection.
    let mut su = app.database().superuser().await;
    let kind: Uuid = sqlx::query_scalar(
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Visit', 30) RETURNING id",
    )
    .bind(tenants.a.org)
    .fetch_one(&mut su)
    .await
    .expect("type");
    let appointment: Uuid = sqlx::query_scalar(
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at, reason)
         VALUES ($1, $2, $3, $4, $5, $5 + interval '30 minutes', 'ALPHA-CANARY reason') RETURNING id",
    )
    .bind(tenants.a.org)
    .bind(tenants.a.patients[0])
    .bind(tenants.a.provider)
    .bind(kind)
    .bind(app.clock.now() + TimeDelta::hours(3))
    .fetch_one(&mut su)
    .await
    .expect("appointment");
    let id = lockdev::db::ids::AppointmentId::from_uuid(appointment).to_string();

    for (name, stream) in [("first", &mut on_first), ("second", &mut on_second)] {
        let seen = read_until(stream, &id, Duration::from_secs(10)).await;
        assert!(seen.contains("event: schedule"), "{name}: {seen}");
        assert!(seen.contains(&format!("data: {id} booked")), "{name}: {seen}");
        assert!(!seen.contains("ALPHA-CANARY"), "identifiers only: {seen}");
    }
    // Check-in reaches them too.
    sqlx::query("UPDATE appointments SET status = 'checked_in', checked_in_at = now() WHERE id = $1")
        .bind(appointment)
        .execute(&mut su)
        .await
        .expect("check in");
    let seen = read_until(&mut on_first, "checked_in", Duration::from_secs(10)).await;
    assert!(seen.contains(&format!("data: {id} checked_in")), "{seen}");

    // Clinic B heard nothing of clinic A's schedule.
    let heard = read_until(&mut clinic_b, &id, Duration::from_secs(1)).await;
    assert!(!heard.contains(&id), "{heard}");
}

#[tokio::test]
async fn only_roles_that_see_the_schedule_may_listen() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    app.act_as(None);
    let res = app.get("/schedule/events").await;
    assert!(res.status() == 303 || res.status() == 401, "signed out: {}", res.status());
    let (patient, _) = (tenants.a.patients[0], ());
    let person = app.person("patient.live@alpha.example", "a long passphrase for the patient").await;
    app.link_patient(tenants.a.org, patient, &person).await;
    app.act_as(Some(crate::fixtures::signed_in(
        person.id,
        lockdev::auth::session::ContextClaim::Patient { organization_id: tenants.a.org, patient_id: patient },
    )));
    let status = app.get("/schedule/events").await.status();
    assert!(status == 403 || status == 404, "a patient may not listen: {status}");
}
