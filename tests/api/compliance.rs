//! The compliance console's audit search: one clinic's log filtered by patient, actor,
//! outcome, break-glass and period, paged by keyset with nothing lost or repeated, only
//! for auditors, every search itself audited.

use lockdev::auth::policy::PlatformRole;
use lockdev::auth::session::ContextClaim;
use reqwest::StatusCode;

use crate::fixtures::{signed_in, two_tenants};
use crate::helpers::spawn_app;
use crate::workspace::{count, get};

fn rows(page: &str) -> usize {
    page.matches("<th scope=\"row\">").count()
}

#[tokio::test]
async fn an_auditor_searches_a_clinics_log_by_patient_actor_outcome_and_period_a_page_at_a_time() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 2).await;
    let (a, b) = (&tenants.a, &tenants.b);
    let auditor = app.person("auditor@platform.example", "a long enough secret phrase").await;
    let mut su = app.database().superuser().await;
    sqlx::query("INSERT INTO platform_roles (user_id, role) VALUES ($1, 'auditor')")
        .bind(auditor.id)
        .execute(&mut su)
        .await
        .expect("role");
    // Real events: the front desk reads one chart; a provider of the other clinic too.
    app.act_as(Some(a.desk_context()));
    assert_eq!(get(&app, &format!("/patients/{}", a.patients[0])).await.0, StatusCode::OK);
    app.act_as(Some(b.desk_context()));
    assert_eq!(get(&app, &format!("/patients/{}", b.patients[0])).await.0, StatusCode::OK);
    // And 60 older reads of the same chart, a denial and one under break-glass.
    sqlx::query(
        "INSERT INTO audit_events (organization_id, occurred_at, actor_user_id, actor_kind, role, action,
                                   resource_type, resource_id, patient_id, purpose, outcome, break_glass)
         SELECT $1, now() - make_interval(hours => n), $2, 'user', 'provider', 'read', 'patient', $3, $3,
                'chart.summary', CASE WHEN n = 7 THEN 'denied' ELSE 'success' END, n = 9
           FROM generate_series(1, 60) n",
    )
    .bind(a.org)
    .bind(a.provider_user)
    .bind(a.patients[0])
    .execute(&mut su)
    .await
    .expect("events");

    app.act_as(Some(signed_in(auditor.id, ContextClaim::Platform { role: PlatformRole::Auditor })));
    let (status, page) = get(&app, "/compliance/audit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Alpha Clinic") && !page.contains("Events, newest first"), "{page}");

    // By patient: 61 events, 50 then 11, newest first, none twice; nothing of Bravo.
    let (status, first) = get(&app, &format!("/compliance/audit?clinic={}&mrn=MRN-0", a.org)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(rows(&first), 50);
    assert!(
        first.contains("MRN-0") && first.contains("desk ALPHA-CANARY") && !first.contains("BRAVO"),
        "{first}"
    );
    let next =
        first.split("href=\"/compliance/audit?").nth(1).and_then(|s| s.split('"').next()).expect("next page");
    let next = next.replace("&#38;", "&").replace("&amp;", "&");
    let (status, second) = get(&app, &format!("/compliance/audit?{next}")).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(rows(&second), 11, "the rest, none twice");
    assert!(!second.contains("Older events"));

    // By actor, outcome, break-glass, period.
    let provider_email: String = sqlx::query_scalar("SELECT email::text FROM users WHERE id = $1")
        .bind(a.provider_user)
        .fetch_one(&mut su)
        .await
        .expect("email");
    let by = |filters: &str| format!("/compliance/audit?clinic={}&{filters}", a.org);
    let (_, page) = get(&app, &by(&format!("actor={provider_email}&outcome=denied"))).await;
    assert_eq!(rows(&page), 1, "{page}");
    let (_, page) = get(&app, &by("break_glass=1")).await;
    assert_eq!(rows(&page), 1);
    assert!(page.contains("break-glass"));
    let today = chrono::Utc::now().date_naive();
    let (_, page) = get(&app, &by(&format!("from={today}&to={today}&mrn=MRN-0"))).await;
    assert!(rows(&page) >= 1 && rows(&page) <= 25, "today's only: {}", rows(&page));
    let (_, page) = get(&app, &by("mrn=NOPE")).await;
    assert!(page.contains("No event matches"));

    // The accounting of disclosures for that record: everyone who read it, oldest first.
    let week = format!("from={}&to={today}", today - chrono::TimeDelta::days(7));
    let (status, page) =
        get(&app, &format!("/compliance/disclosures?clinic={}&mrn=MRN-0&{week}", a.org)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Record MRN-0 at Alpha Clinic"), "{page}");
    assert_eq!(rows(&page), 61, "the 60 earlier reads and today's");
    let first = page.find("provider ALPHA-CANARY").expect("the earlier reads");
    let last = page.rfind("desk ALPHA-CANARY").expect("today's read");
    assert!(first < last, "oldest first");
    let (status, _) = get(&app, &format!("/compliance/disclosures?clinic={}&mrn=", a.org)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Mistakes said next to their fields.
    let (status, page) = get(&app, &by("actor=nobody@nowhere.example")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Nobody signs in with that address"));
    let (status, page) = get(&app, &by("from=2026-13-40")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("YYYY-MM-DD"));

    // Every search is on record; nobody but an auditor searches, the database says so too.
    let searches = format!(
        "SELECT count(*) FROM audit_events WHERE organization_id IS NULL AND resource_type = 'audit_log'
            AND actor_user_id = '{}'",
        auditor.id.as_uuid()
    );
    assert_eq!(count(&app, &searches).await, 7, "each search that showed events, and the accounting");
    app.act_as(Some(signed_in(auditor.id, ContextClaim::Platform { role: PlatformRole::SuperAdmin })));
    assert_eq!(get(&app, &by("mrn=MRN-0")).await.0, StatusCode::FORBIDDEN);
    let runtime = app.database().runtime_pool().await;
    let context = lockdev::db::tenant::SystemContext { user_id: Some(a.admin_user), ..Default::default() };
    let mut tx = lockdev::db::tenant::begin_system(&runtime, &context).await.expect("tx");
    let refused = sqlx::query(
        "SELECT * FROM platform_audit_search($1, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, 10)",
    )
    .bind(a.org)
    .execute(&mut *tx)
    .await
    .expect_err("refused");
    assert_eq!(refused.as_database_error().and_then(|e| e.code()).as_deref(), Some("42501"));
}
