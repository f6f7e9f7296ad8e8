//! `/health` and `/health/deep`.

use crate::helpers::{DedicatedCluster, spawn_app};

#[tokio::test]
async fn health_answers_without_a_database() {
    let app = spawn_app().without_database().spawn().await;
    let res = app.get("/health").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "ok");
}

#[tokio::test]
async fn deep_health_is_ok_when_the_database_is_migrated_and_the_role_is_unprivileged() {
    let app = spawn_app().spawn().await;
    let res = app.get("/health/deep").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["failing"], serde_json::json!([]));
    let names: Vec<&str> =
        body["checks"].as_array().expect("checks").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["database", "migrations", "runtime_role", "job_queue"]);
}

#[tokio::test]
async fn deep_health_names_the_database_when_it_is_unreachable() {
    let app = spawn_app().without_database().spawn().await;
    let res = app.get("/health/deep").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], "fail");
    assert_eq!(body["failing"][0], "database");
    // Never the connection string or its password.
    assert!(!body.to_string().contains("nothing"), "{body}");
}

#[tokio::test]
async fn deep_health_reports_pending_migrations() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    sqlx::query("DELETE FROM _sqlx_migrations").execute(&owner).await.expect("forget migrations");
    let res = app.get("/health/deep").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["failing"], serde_json::json!(["migrations"]));
}

#[tokio::test]
async fn deep_health_fails_when_the_runtime_role_could_bypass_row_level_security() {
    // Run the app as the owner role: it owns the migration table, so RLS would not bind it.
    let app = spawn_app().spawn().await;
    let owner_url = app.database().owner_url.clone();
    let app = spawn_app().env("LOCKDEV_DATABASE_URL", &owner_url).spawn().await;
    let res = app.get("/health/deep").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["failing"], serde_json::json!(["runtime_role"]));
    // Which check fails, and nothing an outsider could use: no role flags, no schema
    // versions, no counts (the operator's log has them).
    let text = body.to_string();
    for detail in ["superuser", "bypass", "owned", "migrations applied", "detail"] {
        assert!(!text.contains(detail), "{detail} in {text}");
    }
    let page = app.get("/status").await.text().await.expect("page");
    assert!(!page.contains("superuser") && !page.contains("owned relations"), "{page}");
}

#[tokio::test]
async fn deep_health_answers_503_while_the_database_is_stopped_and_recovers_after_restart() {
    let cluster = DedicatedCluster::start().await;
    let app = spawn_app()
        .without_database()
        .env("LOCKDEV_DATABASE_URL", &cluster.runtime_url)
        .env("LOCKDEV_DB_ACQUIRE_TIMEOUT_MS", "500")
        .spawn()
        .await;
    assert_eq!(app.get("/health/deep").await.status(), 200, "healthy at first");

    cluster.stop();
    let res = app.get("/health/deep").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["failing"][0], "database");
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health").await.status(), 200);

    cluster.restart();
    // The pool notices dead connections and reconnects on its own: no app restart. The
    // first attempt after a restart may still meet a connection the server just closed,
    // so allow a few tries.
    let mut status = 0;
    for _ in 0..10 {
        status = app.get("/health/deep").await.status().as_u16();
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "recovered after the database came back");
}

/// A database that does not answer (stopped, restarting, failing over) is a moment's
/// wait, not a fault: every page answers 503 with Retry-After and a plain "try again in a
/// moment" — whether the request needed its session loaded, a new session saved, or a
/// transaction — and the log says what it was. Service resumes without a restart.
#[tokio::test]
async fn pages_answer_503_try_again_while_the_database_is_away() {
    let cluster = DedicatedCluster::start().await;
    let app = spawn_app()
        .without_database()
        .env("LOCKDEV_DATABASE_URL", &cluster.runtime_url)
        .env("LOCKDEV_DB_ACQUIRE_TIMEOUT_MS", "500")
        .capture_logs()
        .spawn()
        .await;
    // A session exists (its cookie is in the jar) before the database goes away.
    assert_eq!(app.get("/sign-in").await.status(), 200);

    cluster.stop();
    let fresh = app.browser();
    for (who, res) in [
        ("a session to load", app.get("/sign-in").await),
        ("a session to save", fresh.get("/sign-in").await),
        ("htmx", app.get_fragment("/sign-in").await),
    ] {
        assert_eq!(res.status(), 503, "{who}");
        assert!(res.headers().contains_key("retry-after"), "{who}");
        let body = res.text().await.expect("body");
        assert!(body.contains("try again in a moment"), "{who}: {body}");
    }
    assert!(app.logs.contents().contains("database_unavailable"), "counted as what it is");
    let logs = app.logs.contents();
    // Our own lines (the session library logs its failures itself, at its own level).
    let faults: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"level\":\"ERROR\"") && l.contains("\"target\":\"lockdev"))
        .collect();
    assert!(faults.is_empty(), "not logged as a fault: {faults:#?}");

    cluster.restart();
    let mut status = 0;
    for _ in 0..10 {
        status = app.get("/sign-in").await.status().as_u16();
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200, "serving again once the database is back");
}
