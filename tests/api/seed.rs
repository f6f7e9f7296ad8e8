//! `lockdev seed-demo`: deterministic, idempotent, two look-alike clinics.

use std::process::Command;

use crate::helpers::TestDatabase;

fn seed(db: &TestDatabase) -> std::process::Output {
    lockdev(db, &["seed-demo"])
}

/// Runs the binary with `args` against `db`, with nothing from this environment.
fn lockdev(db: &TestDatabase, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lockdev"))
        .args(args)
        .env_clear()
        .env("LOCKDEV_ENV", "development")
        .env("LOCKDEV_MIGRATION_DATABASE_URL", &db.owner_url)
        .env("LOCKDEV_DATABASE_URL", &db.runtime_url)
        .env("LOCKDEV_LOG", "error")
        .output()
        .expect("run lockdev")
}

#[tokio::test]
async fn seeding_twice_creates_the_demo_once_and_prints_the_sign_ins() {
    let db = TestDatabase::create().await;
    let first = seed(&db);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.contains("rows created"), "{out}");
    assert!(out.contains("dr.osei@riverside.example"), "{out}");
    assert!(out.contains("lockdev-demo-2026"), "{out}");
    assert!(out.contains("support@lockdev.example") && out.contains("auditor@lockdev.example"), "{out}");

    let mut su = db.superuser().await;
    let counts = |table: &'static str| format!("SELECT count(*) FROM {table}");
    let mut before = Vec::new();
    for table in [
        "organizations",
        "users",
        "memberships",
        "patients",
        "patient_proxy_assignments",
        "contact_methods",
        "consent_documents",
        "platform_roles",
        "row_history",
    ] {
        let n: i64 = sqlx::query_scalar(&counts(table)).fetch_one(&mut su).await.expect("count");
        before.push((table, n));
    }
    let second = seed(&db);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("already present"));
    for (table, n) in &before {
        let again: i64 = sqlx::query_scalar(&counts(table)).fetch_one(&mut su).await.expect("count");
        assert_eq!(again, *n, "{table} changed on the second run");
    }

    // The shape the demo promises.
    let orgs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&mut su).await.expect("count");
    assert_eq!(orgs, 2);
    let platform: Vec<String> =
        sqlx::query_scalar("SELECT role FROM platform_roles WHERE revoked_at IS NULL ORDER BY role")
            .fetch_all(&mut su)
            .await
            .expect("roles");
    assert_eq!(platform, ["auditor", "super_admin"], "a super admin and an auditor to sign in as");
    let same_names: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT given_name, family_name FROM patients GROUP BY 1, 2 HAVING count(DISTINCT organization_id) = 2) t",
    )
    .fetch_one(&mut su)
    .await
    .expect("count");
    assert_eq!(same_names, 5, "the same patient names in both clinics");
    let shared_numbers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT value FROM contact_methods GROUP BY 1 HAVING count(DISTINCT organization_id) = 2) t",
    )
    .fetch_one(&mut su)
    .await
    .expect("count");
    assert!(shared_numbers >= 3);
    let roles: Vec<String> = sqlx::query_scalar("SELECT DISTINCT role FROM memberships ORDER BY 1")
        .fetch_all(&mut su)
        .await
        .expect("roles");
    assert_eq!(roles, ["admin_staff", "call_center_agent", "clinical_staff", "org_admin", "provider"]);
    let two_clinic_provider: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT user_id FROM memberships WHERE role = 'provider' GROUP BY 1 HAVING count(DISTINCT organization_id) = 2) t",
    )
    .fetch_one(&mut su)
    .await
    .expect("count");
    assert_eq!(two_clinic_provider, 1);
    let proxies: Vec<(bool, bool)> = sqlx::query_as(
        "SELECT can_view_clinical, can_schedule FROM patient_proxy_assignments ORDER BY can_view_clinical DESC",
    )
    .fetch_all(&mut su)
    .await
    .expect("proxies");
    assert_eq!(proxies, [(true, true), (false, true)], "a dependent with two proxies of different scopes");
    let patient_and_provider: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM patients p JOIN memberships m ON m.user_id = p.user_id AND m.organization_id <> p.organization_id AND m.role = 'provider'",
    )
    .fetch_one(&mut su)
    .await
    .expect("count");
    assert_eq!(patient_and_provider, 1, "one person is a patient at one clinic and a provider at the other");
    let unsafe_contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM contact_methods WHERE NOT (is_safe_for_voicemail OR is_safe_for_sms OR is_safe_for_email)")
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert!(unsafe_contacts > 0);
}

#[tokio::test]
async fn seeding_is_refused_in_production() {
    let db = TestDatabase::create().await;
    let owner = db.owner_pool().await;
    let error = lockdev::cli::demo::seed(&owner, true, &lockdev::crypto::DataKey::new(&[0; 32]))
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("production"));
    let mut su = db.superuser().await;
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&mut su).await.expect("count");
    assert_eq!(users, 0);
}

fn seed_bench(db: &TestDatabase, clinics: &str, patients: &str) -> std::process::Output {
    lockdev(db, &["bench", "seed", "--organizations", clinics, "--patients-per-org", patients])
}

#[tokio::test]
async fn bench_clinics_are_generated_two_at_a_time_with_every_trigger_back_on() {
    let db = TestDatabase::create().await;
    let out = seed_bench(&db, "3", "40");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 clinics, 120 patients"));

    let mut su = db.superuser().await;
    let per_clinic: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM patients GROUP BY organization_id ORDER BY 1")
            .fetch_all(&mut su)
            .await
            .expect("count");
    assert_eq!(per_clinic, [40, 40, 40]);
    // Names are searchable (the tokens the switched-off trigger would have written).
    let unsearchable: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM patients p WHERE NOT EXISTS (SELECT 1 FROM patient_search_tokens t WHERE t.patient_id = p.id)",
    )
    .fetch_one(&mut su)
    .await
    .expect("tokens");
    assert_eq!(unsearchable, 0);
    // Every live visit holds its provider's time (the row the switched-off trigger keeps),
    // and each clinic has ten providers for the schedule grid's benchmark.
    let unheld: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM appointments a WHERE a.status <> 'cancelled'
            AND NOT EXISTS (SELECT 1 FROM provider_busy_times b WHERE b.appointment_id = a.id)",
    )
    .fetch_one(&mut su)
    .await
    .expect("busy times");
    assert_eq!(unheld, 0);
    let providers: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM providers GROUP BY organization_id ORDER BY 1")
            .fetch_all(&mut su)
            .await
            .expect("providers");
    assert_eq!(providers, [10, 10, 10]);
    let switched_off: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'D'")
            .fetch_one(&mut su)
            .await
            .expect("triggers");
    assert_eq!(switched_off, 0, "the generator switches every trigger back on");

    // Again: nothing new. And in a second database the same rows, whichever connection
    // happened to generate which clinic.
    let names = "SELECT string_agg(mrn || given_name || family_name, ',' ORDER BY organization_id, mrn) FROM patients";
    let before: String = sqlx::query_scalar(names).fetch_one(&mut su).await.expect("names");
    let again = seed_bench(&db, "3", "40");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let after: String = sqlx::query_scalar(names).fetch_one(&mut su).await.expect("names");
    assert_eq!(before, after);
    let other = TestDatabase::create().await;
    assert!(seed_bench(&other, "3", "40").status.success());
    let elsewhere: String =
        sqlx::query_scalar(names).fetch_one(&mut other.superuser().await).await.expect("names");
    assert_eq!(before, elsewhere);
}
