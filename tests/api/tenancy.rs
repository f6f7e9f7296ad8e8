//! Tenant isolation in the database, proved as the runtime role (TEN-01..07, TEN-10..14).

use lockdev::db::ids::{OrganizationId, PatientId};
use lockdev::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};

use crate::fixtures::{CANARY_B, TwoTenants, two_tenants};
use crate::helpers::{TestDatabase, files_under};
use crate::workspace::{in_clinic, post, ulid};

/// Tables that hold no tenant data and need no row-level security.
const WITHOUT_RLS: &[&str] = &["_sqlx_migrations"];

/// Tables where organization_id may be NULL (platform rows beside tenant rows).
const MIXED_SCOPE: &[&str] = &[
    "audit_events",
    "audit_seals",
    "audit_verifications",
    "row_history",
    "consent_documents",
    "consents",
    "auth_tokens",
    "jobs",
    "outbound_emails",
];

/// Tables whose rows may really be deleted: credentials and session bookkeeping, never
/// clinical, identity or audit data (their history keeps the deletion on record).
const DELETABLE: &[&str] = &[
    // SNS message ids already taken in (replay guard), kept a day.
    "sns_deliveries",
    // Derived search index, rebuilt by a trigger from the patient's names.
    "patient_search_tokens",
    // Derived from live appointments by a trigger (a provider's time, no patient data).
    "provider_busy_times",
    // Finished job-queue rows (identifiers only), pruned after a week.
    "jobs",
    "passkeys",
    // Clinic configuration (not clinical or identity data); row history keeps each change.
    "provider_working_hours",
    "recovery_codes",
    "sign_in_throttle",
    "totp_credentials",
    "totp_enrolments",
    "user_sessions",
    "webauthn_ceremonies",
];

struct Setup {
    db: TestDatabase,
    runtime: PgPool,
    tenants: TwoTenants,
}

async fn setup(patients_each: usize) -> Setup {
    let db = TestDatabase::create().await;
    let owner = db.owner_pool().await;
    let tenants = two_tenants(&owner, patients_each).await;
    let runtime = db.runtime_pool().await;
    Setup { db, runtime, tenants }
}

async fn count_in(pool: &PgPool, org: OrganizationId, table: &str) -> i64 {
    let mut tx = begin_tenant(pool, &TenantContext::system(org)).await.expect("tenant tx");
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    tx.rollback().await.expect("rollback");
    n
}

#[tokio::test]
async fn every_table_has_forced_row_level_security_with_a_restrictive_tenant_guard() {
    let db = TestDatabase::create().await;
    let pool = db.owner_pool().await;
    // TEN-01: every ordinary or partitioned table, partitions included.
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
            AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
            AND c.relname <> ALL($1)
          ORDER BY 1",
    )
    .bind(WITHOUT_RLS)
    .fetch_all(&pool)
    .await
    .expect("catalog");
    assert!(unprotected.is_empty(), "tables without forced RLS: {unprotected:?}");

    // TEN-02: every (non-partition) table with organization_id has a RESTRICTIVE policy
    // whose USING and WITH CHECK both read the tenant setting.
    let tenant_tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("catalog");
    assert!(tenant_tables.len() >= 14, "{tenant_tables:?}");
    for table in &tenant_tables {
        let guards: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT qual, with_check FROM pg_policies
              WHERE schemaname = 'public' AND tablename = $1 AND permissive = 'RESTRICTIVE' AND cmd = 'ALL'",
        )
        .bind(table)
        .fetch_all(&pool)
        .await
        .expect("policies");
        assert!(
            guards.iter().any(|(qual, check)| {
                qual.as_deref().is_some_and(|q| q.contains("app.organization_id"))
                    && check.as_deref().is_some_and(|c| c.contains("app.organization_id"))
            }),
            "{table} has no restrictive guard on app.organization_id: {guards:?}"
        );
        // NOT NULL unless the table is deliberately mixed-scope.
        let nullable: bool = sqlx::query_scalar(
            "SELECT NOT attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'organization_id'",
        )
        .bind(table)
        .fetch_one(&pool)
        .await
        .expect("column");
        assert_eq!(nullable, MIXED_SCOPE.contains(&table.as_str()), "{table}: organization_id nullability");
    }

    // No always-true policy anywhere.
    let always_true: Vec<String> = sqlx::query_scalar(
        "SELECT tablename || '.' || policyname FROM pg_policies
          WHERE schemaname = 'public' AND (btrim(qual) IN ('true', '(true)') OR btrim(with_check) IN ('true', '(true)'))",
    )
    .fetch_all(&pool)
    .await
    .expect("policies");
    assert!(always_true.is_empty(), "always-true policies: {always_true:?}");
}

#[tokio::test]
async fn no_view_bypasses_policies_and_every_security_definer_function_pins_its_search_path() {
    let db = TestDatabase::create().await;
    let pool = db.owner_pool().await;
    // TEN-03
    let views: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
            AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'], false)",
    )
    .fetch_all(&pool)
    .await
    .expect("catalog");
    assert!(views.is_empty(), "views without security_invoker: {views:?}");
    let functions: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'public' AND p.prosecdef
            AND NOT coalesce(EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'), false)",
    )
    .fetch_all(&pool)
    .await
    .expect("catalog");
    assert!(functions.is_empty(), "SECURITY DEFINER functions without a pinned search_path: {functions:?}");
    // With pg_temp left out of the path PostgreSQL searches it first, so a caller's
    // temporary table could stand in for ours: it must be named, and last.
    let temp_not_last: Vec<String> = sqlx::query_scalar(
        "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname = 'public' AND p.prosecdef
            AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%, pg_temp')",
    )
    .fetch_all(&pool)
    .await
    .expect("catalog");
    assert!(temp_not_last.is_empty(), "SECURITY DEFINER functions without pg_temp last: {temp_not_last:?}");
}

#[tokio::test]
async fn the_runtime_role_owns_nothing_bypasses_nothing_and_cannot_truncate_or_delete() {
    let db = TestDatabase::create().await;
    let runtime = db.runtime_pool().await;
    // TEN-04, checked from the runtime role's own session.
    let row = sqlx::query(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&runtime)
    .await
    .expect("role");
    for flag in ["rolsuper", "rolbypassrls", "rolcreaterole", "rolcreatedb"] {
        assert!(!row.get::<bool, _>(flag), "runtime role has {flag}");
    }
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE pg_has_role(current_user, relowner, 'USAGE')",
    )
    .fetch_one(&runtime)
    .await
    .expect("owned");
    assert_eq!(owned, 0, "the runtime role owns (or inherits ownership of) relations");
    let risky: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname || ':' || p.privilege FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
                unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER', 'DELETE']) AS p(privilege)
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
            AND has_table_privilege(current_user, c.oid, p.privilege)
            AND NOT (p.privilege = 'DELETE' AND c.relname = ANY($1)) ORDER BY 1",
    )
    .bind(DELETABLE)
    .fetch_all(&runtime)
    .await
    .expect("privileges");
    assert!(risky.is_empty(), "runtime role privileges that should not exist: {risky:?}");
    // Append-only and derived tables: no writes beyond what they need.
    for (table, privilege) in [
        ("audit_events", "UPDATE"),
        ("audit_seals", "UPDATE"),
        ("row_history", "INSERT"),
        ("row_history", "UPDATE"),
        ("user_contexts", "INSERT"),
        ("user_contexts", "UPDATE"),
    ] {
        let has: bool = sqlx::query_scalar("SELECT has_table_privilege(current_user, $1, $2)")
            .bind(table)
            .bind(privilege)
            .fetch_one(&runtime)
            .await
            .expect("privilege");
        assert!(!has, "runtime role has {privilege} on {table}");
    }
}

#[tokio::test]
async fn a_tenant_sees_exactly_its_own_rows_and_nothing_of_the_other() {
    let s = setup(3).await;
    // TEN-13: every count matches the tenant's own ground truth.
    for table in
        ["patients", "contact_methods", "memberships", "providers", "care_team_members", "user_contexts"]
    {
        let a = count_in(&s.runtime, s.tenants.a.org, table).await;
        let b = count_in(&s.runtime, s.tenants.b.org, table).await;
        assert!(a > 0, "{table} seeded");
        assert_eq!(a, b, "{table}: both tenants were seeded alike");
        let mut superuser = s.db.superuser().await;
        let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut superuser)
            .await
            .expect("total");
        assert_eq!(a + b, total, "{table}: the two tenants partition the table");
    }
    // Reading B's patient by id from A: nothing.
    let mut tx = begin_tenant(&s.runtime, &TenantContext::system(s.tenants.a.org)).await.expect("tx");
    let found: Option<String> = sqlx::query_scalar("SELECT family_name FROM patients WHERE id = $1")
        .bind(s.tenants.b.patients[0])
        .fetch_optional(&mut *tx)
        .await
        .expect("query");
    assert_eq!(found, None);
    // Even a search for B's canary finds nothing from A.
    let hits: i64 = sqlx::query_scalar("SELECT count(*) FROM patients WHERE family_name LIKE $1")
        .bind(format!("{CANARY_B}%"))
        .fetch_one(&mut *tx)
        .await
        .expect("query");
    assert_eq!(hits, 0);
    // Only A's organization row is visible.
    let orgs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&mut *tx).await.expect("orgs");
    assert_eq!(orgs, 1);
    // People: A's staff are visible, B's are not.
    let b_user: Option<String> = sqlx::query_scalar("SELECT email::text FROM users WHERE id = $1")
        .bind(s.tenants.b.provider_user)
        .fetch_optional(&mut *tx)
        .await
        .expect("query");
    assert_eq!(b_user, None);
    let a_user: Option<String> = sqlx::query_scalar("SELECT email::text FROM users WHERE id = $1")
        .bind(s.tenants.a.provider_user)
        .fetch_optional(&mut *tx)
        .await
        .expect("query");
    assert!(a_user.is_some());
}

#[tokio::test]
async fn writing_a_row_for_the_other_tenant_fails() {
    let s = setup(1).await;
    let mut tx = begin_tenant(&s.runtime, &TenantContext::system(s.tenants.a.org)).await.expect("tx");
    // TEN-06 at the database: an explicit foreign organization_id is refused.
    let error = sqlx::query(
        "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
         VALUES ($1, 'X1', 'Eve', 'Intruder', '1990-01-01', 'unknown')",
    )
    .bind(s.tenants.b.org)
    .execute(&mut *tx)
    .await
    .expect_err("foreign tenant refused");
    assert!(error.to_string().contains("row-level security"), "{error}");
    tx.rollback().await.expect("rollback");

    // Updating or deleting B's rows from A touches nothing.
    let mut tx = begin_tenant(&s.runtime, &TenantContext::system(s.tenants.a.org)).await.expect("tx");
    let updated = sqlx::query("UPDATE patients SET family_name = 'Hijacked' WHERE id = $1")
        .bind(s.tenants.b.patients[0])
        .execute(&mut *tx)
        .await
        .expect("update runs")
        .rows_affected();
    assert_eq!(updated, 0);
    // Moving one's own row into the other tenant is refused too.
    let error = sqlx::query("UPDATE patients SET organization_id = $2 WHERE id = $1")
        .bind(s.tenants.a.patients[0])
        .bind(s.tenants.b.org)
        .execute(&mut *tx)
        .await
        .expect_err("moving a row across tenants");
    assert!(
        error.to_string().contains("row-level security") || error.to_string().contains("foreign key"),
        "{error}"
    );
}

#[tokio::test]
async fn a_reference_into_the_other_tenant_is_refused_by_the_composite_foreign_key() {
    let s = setup(1).await;
    // TEN-07: A's contact pointing at B's patient.
    let mut tx = begin_tenant(&s.runtime, &TenantContext::system(s.tenants.a.org)).await.expect("tx");
    let error = sqlx::query(
        "INSERT INTO contact_methods (organization_id, patient_id, kind, value) VALUES ($1, $2, 'mobile', '+16175550199')",
    )
    .bind(s.tenants.a.org)
    .bind(s.tenants.b.patients[0])
    .execute(&mut *tx)
    .await
    .expect_err("cross-tenant reference");
    let code = error.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("23503"), "foreign key violation: {error}");
    tx.rollback().await.expect("rollback");

    // Even as the superuser (no RLS at all) the composite key holds.
    let mut su = s.db.superuser().await;
    let error = sqlx::query(
        "INSERT INTO care_team_members (organization_id, patient_id, provider_id, role) VALUES ($1, $2, $3, 'consultant')",
    )
    .bind(s.tenants.a.org)
    .bind(s.tenants.a.patients[0])
    .bind(s.tenants.b.provider)
    .execute(&mut su)
    .await
    .expect_err("provider of another tenant");
    assert_eq!(error.as_database_error().and_then(|e| e.code()).as_deref(), Some("23503"));
}

#[tokio::test]
async fn without_a_tenant_context_every_tenant_table_is_empty() {
    let s = setup(2).await;
    // TEN-11: a plain query on the pool (no transaction, no settings), and a system
    // transaction: zero rows, never all rows.
    for table in [
        "patients",
        "contact_methods",
        "memberships",
        "providers",
        "staff",
        "care_team_members",
        "patient_proxy_assignments",
        "provider_licenses",
    ] {
        let bare: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&s.runtime)
            .await
            .expect("count");
        assert_eq!(bare, 0, "{table} without context");
        let mut tx = begin_system(&s.runtime, &SystemContext::default()).await.expect("system tx");
        let system: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .expect("count");
        assert_eq!(system, 0, "{table} in a system transaction");
    }
    // A malformed setting fails closed with an error rather than matching anything.
    let mut tx = begin_system(&s.runtime, &SystemContext::default()).await.expect("system tx");
    sqlx::query("SELECT set_config('app.organization_id', 'not-a-uuid', true)")
        .execute(&mut *tx)
        .await
        .expect("set");
    assert!(sqlx::query("SELECT count(*) FROM patients").fetch_one(&mut *tx).await.is_err());
}

#[tokio::test]
async fn a_pooled_connection_reused_for_another_tenant_carries_nothing_of_the_first() {
    let s = setup(2).await;
    // One connection, so every transaction below reuses it.
    let pool = PgPoolOptions::new().max_connections(1).connect(&s.db.runtime_url).await.expect("pool");
    let mut tx = begin_tenant(&pool, &TenantContext::system(s.tenants.a.org)).await.expect("tx A");
    let a: i64 =
        sqlx::query_scalar("SELECT count(*) FROM patients").fetch_one(&mut *tx).await.expect("count");
    assert_eq!(a, 2);
    tx.commit().await.expect("commit");

    // TEN-10: after COMMIT the settings are gone from the connection.
    let leftover: Option<String> =
        sqlx::query_scalar("SELECT nullif(current_setting('app.organization_id', true), '')")
            .fetch_one(&pool)
            .await
            .expect("setting");
    assert_eq!(leftover, None);
    let bare: i64 =
        sqlx::query_scalar("SELECT count(*) FROM patients").fetch_one(&pool).await.expect("count");
    assert_eq!(bare, 0);

    let mut tx = begin_tenant(&pool, &TenantContext::system(s.tenants.b.org)).await.expect("tx B");
    let seen: Vec<PatientId> =
        sqlx::query_scalar("SELECT id FROM patients").fetch_all(&mut *tx).await.expect("rows");
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|id| s.tenants.b.patients.contains(id)));
    tx.rollback().await.expect("rollback");

    // Also after ROLLBACK.
    let leftover: Option<String> =
        sqlx::query_scalar("SELECT nullif(current_setting('app.organization_id', true), '')")
            .fetch_one(&pool)
            .await
            .expect("setting");
    assert_eq!(leftover, None);
}

#[test]
fn no_code_sets_a_session_scoped_tenant_setting() {
    // TEN-10, the lint half: settings are only ever set transaction-locally.
    let mut offenders = Vec::new();
    for path in ["src", "migrations", "scripts"].into_iter().flat_map(files_under) {
        let text = std::fs::read_to_string(&path).unwrap_or_default().to_lowercase();
        let compact: String = text.split_whitespace().collect();
        if compact.contains(",false)") && compact.contains("set_config(") {
            // Look closer: a set_config call whose last argument is false.
            for (i, _) in compact.match_indices("set_config(") {
                let call: String = compact[i..].chars().take_while(|c| *c != ';').collect();
                if let Some(end) = call.find(')')
                    && call[..=end].ends_with(",false)")
                {
                    offenders.push(path.display().to_string());
                }
            }
        }
        for line in text.lines() {
            let line = line.trim_start();
            if (line.starts_with("set app.") || line.starts_with("set session app."))
                && !line.starts_with("set local")
            {
                offenders.push(format!("{}: {line}", path.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "session-scoped settings: {offenders:?}");
}

#[tokio::test]
async fn a_job_for_one_tenant_cannot_reach_the_other_tenants_object() {
    // TEN-12 at the level jobs will use: system work for A, handed B's patient id.
    let s = setup(1).await;
    let mut tx = begin_tenant(&s.runtime, &TenantContext::system(s.tenants.a.org)).await.expect("tx");
    let found: Option<PatientId> = sqlx::query_scalar("SELECT id FROM patients WHERE id = $1")
        .bind(s.tenants.b.patients[0])
        .fetch_optional(&mut *tx)
        .await
        .expect("query");
    assert_eq!(found, None);
    let touched = sqlx::query("UPDATE contact_methods SET is_safe_for_sms = true WHERE patient_id = $1")
        .bind(s.tenants.b.patients[0])
        .execute(&mut *tx)
        .await
        .expect("update")
        .rows_affected();
    assert_eq!(touched, 0);
    tx.commit().await.expect("commit");
    let mut su = s.db.superuser().await;
    let flag: bool =
        sqlx::query_scalar("SELECT bool_or(is_safe_for_sms) FROM contact_methods WHERE patient_id = $1")
            .bind(s.tenants.b.patients[0])
            .fetch_one(&mut su)
            .await
            .expect("flag");
    assert!(!flag, "B's contact is untouched");
}

#[tokio::test]
async fn platform_work_sees_clinics_but_no_patient_data() {
    // TEN-14 at the database: a super admin's console runs as platform work.
    let s = setup(2).await;
    let mut tx = begin_system(&s.runtime, &SystemContext::default()).await.expect("system tx");
    let orgs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&mut *tx).await.expect("count");
    assert_eq!(orgs, 2);
    let patients: i64 =
        sqlx::query_scalar("SELECT count(*) FROM patients").fetch_one(&mut *tx).await.expect("count");
    assert_eq!(patients, 0);
    let history: i64 =
        sqlx::query_scalar("SELECT count(*) FROM row_history WHERE organization_id IS NOT NULL")
            .fetch_one(&mut *tx)
            .await
            .expect("count");
    assert_eq!(history, 0);
}

#[tokio::test]
async fn a_person_sees_their_own_contexts_across_clinics_and_nobody_elses() {
    let s = setup(1).await;
    // The provider of A also becomes a provider at B.
    let owner = s.db.owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(s.tenants.b.org)).await.expect("tx");
    sqlx::query("INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'provider')")
        .bind(s.tenants.b.org)
        .bind(s.tenants.a.provider_user)
        .execute(&mut *tx)
        .await
        .expect("membership");
    tx.commit().await.expect("commit");

    let me = SystemContext { user_id: Some(s.tenants.a.provider_user), ..Default::default() };
    let mut tx = begin_system(&s.runtime, &me).await.expect("system tx");
    let contexts: Vec<(OrganizationId, String)> = sqlx::query_as(
        "SELECT organization_id, role FROM user_contexts WHERE active ORDER BY organization_id",
    )
    .fetch_all(&mut *tx)
    .await
    .expect("contexts");
    let mut expected =
        vec![(s.tenants.a.org, "provider".to_owned()), (s.tenants.b.org, "provider".to_owned())];
    expected.sort();
    assert_eq!(contexts, expected);
    // Nobody's but mine, even without a WHERE clause.
    let everyone: i64 = sqlx::query_scalar("SELECT count(DISTINCT user_id) FROM user_contexts")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert_eq!(everyone, 1);
}

#[tokio::test]
#[allow(clippy::disallowed_methods)] // the test looks at the pool's connections themselves
async fn a_caller_cancelled_while_its_transaction_begins_leaves_no_connection_inside_a_transaction() {
    // Found by the benchmarks: a client that goes away while its request's BEGIN is on the
    // wire used to leave that pooled connection idle *in* the transaction, with the
    // request's tenant settings, and the next plain statement on it was never committed.
    let s = setup(1).await;
    let context = TenantContext::system(s.tenants.a.org);
    let mut superuser = s.db.superuser().await;
    for n in 0..300u64 {
        let begin = begin_tenant(&s.runtime, &context);
        // Cancelled at every point from before the connection is taken to after BEGIN.
        let _ = tokio::time::timeout(std::time::Duration::from_micros(n % 300), begin).await;
        // Holding every connection of the pool waits until each was handed back; then none
        // may carry a tenant or be inside a transaction.
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(s.runtime.acquire().await.expect("connection"));
        }
        for conn in &mut held {
            let organization: String =
                sqlx::query_scalar("SELECT coalesce(current_setting('app.organization_id', true), '')")
                    .fetch_one(&mut **conn)
                    .await
                    .expect("query");
            assert_eq!(organization, "", "a pooled connection still carries a tenant (attempt {n})");
        }
        let inside: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
        )
        .fetch_one(&mut superuser)
        .await
        .expect("activity");
        assert_eq!(inside, 0, "a pooled connection was left inside a transaction (attempt {n})");
    }
}

/// A clinic reads the people it has had, but changes an account only through a context
/// that is active now: a member who left is no handle on their account.
#[tokio::test]
async fn a_clinic_changes_no_account_through_a_context_that_ended() {
    let database = TestDatabase::create().await;
    let owner = database.owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let runtime = database.runtime_pool().await;
    let rename = |who: lockdev::db::ids::UserId| {
        let runtime = runtime.clone();
        let org = tenants.a.org;
        async move {
            let mut tx = begin_tenant(&runtime, &TenantContext::system(org)).await.expect("tx");
            let changed =
                sqlx::query("UPDATE users SET display_name = 'Renamed by the clinic' WHERE id = $1")
                    .bind(who)
                    .execute(&mut *tx)
                    .await
                    .expect("update")
                    .rows_affected();
            tx.commit().await.expect("commit");
            changed
        }
    };
    assert_eq!(rename(tenants.a.desk_user).await, 1, "a current member");
    let mut tx = begin_tenant(&owner, &TenantContext::system(tenants.a.org)).await.expect("tx");
    sqlx::query("UPDATE memberships SET status = 'removed' WHERE user_id = $1")
        .bind(tenants.a.desk_user)
        .execute(&mut *tx)
        .await
        .expect("removed");
    tx.commit().await.expect("commit");
    assert_eq!(rename(tenants.a.desk_user).await, 0, "a member who left");
}

#[tokio::test]
async fn a_request_naming_another_clinics_membership_answers_404() {
    let (app, tenants, _) = crate::workspace::setup(0).await;
    let b_membership = in_clinic(
        &app,
        tenants.b.org,
        "SELECT id FROM memberships WHERE user_id = $1",
        &[&tenants.b.desk_user.as_uuid()],
    )
    .await
    .expect("membership");
    app.act_as(Some(tenants.a.admin_context()));
    for action in ["role", "deactivate", "reactivate"] {
        let path = format!("/members/{}/{action}", ulid(b_membership));
        assert_eq!(post(&app, &path, &[("role", "provider")]).await.0, 404, "{path}");
    }
    let role: String = {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT role FROM memberships WHERE id = $1")
            .bind(b_membership)
            .fetch_one(&mut su)
            .await
            .expect("role")
    };
    assert_eq!(role, "admin_staff", "nothing changed in the other clinic");
}
