//! A statement that runs too long, what people type shown as text, the clinic's settings page.

use lockdev::auth::policy::{self, StaffRole};
use lockdev::db::ids::PatientId;
use lockdev::db::tenant::{SystemContext, begin_system};
use lockdev::web::{Access, Phi};
use sqlx::Row;
use uuid::Uuid;

use super::{count, get, member, next_monday, post, setup};
use crate::fixtures::two_tenants;
use crate::helpers::spawn_app;

// ---- a statement that runs too long ------------------------------------------------------

async fn slow_search(tx: lockdev::web::TenantTx) -> lockdev::web::AppResult<String> {
    let mut db = tx.conn().await?;
    sqlx::query("SELECT pg_sleep(2)").execute(&mut *db).await?;
    Ok("finished".into())
}

#[tokio::test]
async fn a_statement_past_the_time_limit_is_cancelled_with_a_generic_error() {
    // FLT-04: every runtime connection carries statement_timeout (and no JIT).
    let app = spawn_app()
        .env("LOCKDEV_DB_STATEMENT_TIMEOUT_MS", "200")
        .routes(lockdev::web::Routes::new().post(
            "/test/slow-search",
            Access::Staff(policy::Permission::SearchPatients),
            Phi::None,
            slow_search,
        ))
        .spawn()
        .await;
    let mut conn = begin_system(&app.pool, &SystemContext::default()).await.expect("connection");
    let timeout: String =
        sqlx::query_scalar("SHOW statement_timeout").fetch_one(&mut *conn).await.expect("show");
    assert_eq!(timeout, "200ms");
    let jit: String = sqlx::query_scalar("SHOW jit").fetch_one(&mut *conn).await.expect("show");
    assert_eq!(jit, "off");
    let workers: String =
        sqlx::query_scalar("SHOW max_parallel_workers_per_gather").fetch_one(&mut *conn).await.expect("show");
    assert_eq!(workers, "0");
    drop(conn);
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 0).await;
    app.act_as(Some(tenants.a.desk_context()));
    let started = std::time::Instant::now();
    let (status, body) = post(&app, "/test/slow-search", &[]).await;
    assert!(started.elapsed() < std::time::Duration::from_millis(1500), "cancelled, not waited out");
    assert_eq!(status, 500);
    assert!(body.contains("Something went wrong") && !body.contains("canceling statement"), "{body}");
    // The failure is on record (the work itself was rolled back).
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE action = 'request_failed' AND outcome = 'failure'"
        )
        .await,
        1
    );
    // The same connection serves the next request.
    assert_eq!(get(&app, "/patients").await.0, 200);
}

// ---- what people type is shown as text ----------------------------------------------------

#[tokio::test]
async fn markup_and_htmx_attributes_in_patient_data_are_shown_as_text() {
    // WEB-03 and INJ-03: names, contact notes, visit reasons and note text are escaped in
    // every context they appear (element text, attribute values), and a return address
    // is only ever a path of this site.
    let (app, tenants, kind) = setup(0).await;
    app.act_as(Some(tenants.a.desk_context()));
    let hostile_name = r#"<div hx-get="/members" hx-trigger="load">x</div>"#;
    let quote_breaker = r#"" onmouseover="alert(1)"#;
    let (status, _) = post(
        &app,
        "/patients",
        &[
            ("given_name", quote_breaker),
            ("family_name", hostile_name),
            ("preferred_name", "{{7*7}}"),
            ("date_of_birth", "1990-01-01"),
            ("legal_sex", "female"),
            ("confirm_new", "1"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let mut su = app.database().superuser().await;
    let patient: Uuid =
        sqlx::query_scalar("SELECT id FROM patients").fetch_one(&mut su).await.expect("patient");
    let patient = PatientId::from_uuid(patient);
    let (_, body) = post(&app, "/patients/search", &[("q", "")]).await;
    assert!(!body.contains("<div hx-get"), "registry: {body}");
    assert!(body.contains("&#60;div hx-get=&#34;/members&#34;"), "shown as text: {body}");
    let (_, body) = get(&app, &format!("/patients/{patient}")).await;
    assert!(!body.contains("<div hx-get") && !body.contains(r#"" onmouseover"#), "chart");
    assert!(body.contains("{{7*7}}"), "braces are text, not a template");
    let (_, body) = get(&app, &format!("/patients/{patient}/edit")).await;
    assert!(!body.contains(r#"value="" onmouseover"#), "attribute context: {body}");
    let (status, _) = post(
        &app,
        &format!("/patients/{patient}/contacts"),
        &[("kind", "email"), ("value", "a@b.example"), ("label", "<script>alert(1)</script>")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = get(&app, &format!("/patients/{patient}/contacts")).await;
    assert!(!body.contains("<script>alert"), "contact label");
    let monday = next_monday().to_string();
    let (status, _) = post(
        &app,
        &format!("/patients/{patient}/appointments"),
        &[
            ("provider_id", &tenants.a.provider.to_string()),
            ("type_id", &ulid::Ulid::from(kind).to_string()),
            ("date", &monday),
            ("time", "10:00"),
            ("reason", "<img src=x onerror=alert(1)>"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = get(&app, &format!("/schedule?date={monday}")).await;
    assert!(!body.contains("<img src=x"), "visit reason");
    let appointment: Uuid =
        sqlx::query_scalar("SELECT id FROM appointments").fetch_one(&mut su).await.expect("id");
    let appointment = lockdev::db::ids::AppointmentId::from_uuid(appointment);
    for bad in ["javascript:alert(1)", "https://evil.example/", "//evil.example/x"] {
        let (status, body) =
            get(&app, &format!("/appointments/{appointment}?return_to={}", urlencode(bad))).await;
        assert_eq!(status, 200);
        assert!(!body.contains(bad), "{bad} reached the page");
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn the_clinic_chooses_care_team_only_charts_and_its_timezone_on_the_settings_page() {
    let (app, tenants, _) = setup(2).await;
    let other = tenants.a.patients[1];
    app.act_as(Some(tenants.a.provider_context()));
    let res =
        app.post_form(&format!("/patients/{other}/notes"), &[("title", "Routine"), ("plan", "Rest")]).await;
    let note = res.headers()["location"].to_str().expect("ascii").to_owned();
    // Signed: until then a draft is its author's alone.
    assert_eq!(post(&app, &format!("{note}/sign"), &[]).await.0, 200);
    let (colleague, _) = member(&app, tenants.a.org, StaffRole::Provider).await;
    app.act_as(Some(colleague.clone()));
    assert_eq!(get(&app, &note).await.0, 200);

    app.act_as(Some(tenants.a.admin_context()));
    let (status, body) = get(&app, "/settings").await;
    assert_eq!(status, 200);
    assert!(body.contains("America/New_York"));
    let (status, body) = post(
        &app,
        "/settings",
        &[
            ("timezone", "Mars/Olympus"),
            ("chart_access", "care_team_only"),
            ("session_idle_minutes", "99"),
            ("break_glass_minutes", "240"),
            ("reminder_leads", "72, 500"),
            ("window_start", "21:00"),
            ("window_end", "08:00"),
            ("callback_phone", "12"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("Choose a timezone from the list") && body.contains("from 1 to 15"));
    assert!(body.contains("from 5 to 60") && body.contains("value=\"240\""), "{body}");
    assert!(body.contains("between 1 and 336") && body.contains("the first earlier than the second"));
    assert!(body.contains("This number cannot be used") && body.contains("value=\"72, 500\""), "input kept");
    let (status, _) = post(
        &app,
        "/settings",
        &[
            ("timezone", "America/Chicago"),
            ("chart_access", "care_team_only"),
            ("session_idle_minutes", "10"),
            ("break_glass_minutes", "20"),
            ("reminder_leads", "24, 72, 2"),
            ("window_start", "09:00"),
            ("window_end", "20:00"),
            ("callback_phone", "(617) 555-0100"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let mut su = app.database().superuser().await;
    let messaging: (Vec<i32>, String, Option<String>) = sqlx::query_as(
        "SELECT reminder_lead_hours, contact_window_start::text || '-' || contact_window_end::text, callback_phone
           FROM organizations WHERE id = $1",
    )
    .bind(tenants.a.org)
    .fetch_one(&mut su)
    .await
    .expect("messaging settings");
    assert_eq!(messaging, (vec![72, 24, 2], "09:00:00-20:00:00".to_owned(), Some("+16175550100".to_owned())));
    // Audited with the values before and after.
    let (before, after): (String, String) = sqlx::query_as(
        "SELECT details -> 'before' ->> 'timezone', details -> 'after' ->> 'break_glass_minutes' FROM audit_events
          WHERE organization_id = $1 AND purpose = 'clinic_settings' ORDER BY occurred_at DESC LIMIT 1",
    )
    .bind(tenants.a.org)
    .fetch_one(&mut su)
    .await
    .expect("audited");
    assert_eq!((before.as_str(), after.as_str()), ("America/New_York", "20"));
    let mut su = app.database().superuser().await;
    let row = sqlx::query("SELECT timezone, settings::text AS settings FROM organizations WHERE id = $1")
        .bind(tenants.a.org)
        .fetch_one(&mut su)
        .await
        .expect("org");
    assert_eq!(row.get::<String, _>("timezone"), "America/Chicago");
    let settings: String = row.get("settings");
    assert!(
        settings.contains("care_team_only") && settings.contains("\"session_idle_minutes\": 10"),
        "{settings}"
    );
    // From the colleague's very next request, the note is out of reach.
    app.act_as(Some(colleague));
    assert_eq!(get(&app, &note).await.0, 404);
    // The front desk cannot change settings.
    app.act_as(Some(tenants.a.desk_context()));
    assert_eq!(post(&app, "/settings", &[("timezone", "UTC")]).await.0, 403);
}
