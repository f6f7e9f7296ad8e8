//! The audit log: in the same transaction as the operation, append-only, sealed into a
//! hash chain that `lockdev audit verify` checks (AUD-01..05, AUD-07).

use std::process::Command;

use lockdev::audit::chain::{self, Chain};
use lockdev::db::tenant::TenantContext;
use sqlx::Row;

use crate::fixtures::{CANARY_A, CANARY_B, phi_routes, two_tenants};
use crate::helpers::{TestApp, TestDatabase, spawn_app};

async fn audit_count(app: &TestApp) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar("SELECT count(*) FROM audit_events").fetch_one(&mut su).await.expect("count")
}

#[tokio::test]
async fn every_phi_route_writes_exactly_one_audit_event_with_who_what_whom_and_where() {
    let app = spawn_app().routes(phi_routes()).env("LOCKDEV_TRUSTED_PROXIES", "127.0.0.1").spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient = tenants.a.patients[0];
    app.act_as(Some(tenants.a.provider_context()));

    // The test routes here; each production PHI route has its own case where its feature
    // is in `phi_audit.rs`, and `every_phi_route_has_an_audit_case` there checks none is
    // forgotten.
    let phi_routes: Vec<_> = app
        .registry
        .iter()
        .filter(|r| r.phi != lockdev::web::Phi::None && r.path.starts_with("/test/"))
        .cloned()
        .collect();
    assert!(!phi_routes.is_empty());
    for route in phi_routes {
        let path = route.path.replace("{patient_id}", &patient.to_string());
        let before = audit_count(&app).await;
        let request = app
            .client
            .request(route.method.clone(), app.url(&path))
            .header("X-CSRF-Token", app.csrf_token().await)
            .header("X-Request-ID", "audit-coverage-1");
        let request = match route.method.as_str() {
            "POST" if route.path.ends_with("family-name") => request.form(&[("family_name", "Changed")]),
            "POST" => request.form(&[
                ("mrn", "NEW-1"),
                ("given_name", "New"),
                ("family_name", "Person"),
                ("date_of_birth", "2000-02-02"),
            ]),
            _ => request,
        };
        let res = request.send().await.expect("request");
        assert!(res.status().is_success(), "{} {}: {}", route.method, route.path, res.status());
        let after = audit_count(&app).await;
        assert_eq!(after - before, 1, "{} {}: exactly one audit event", route.method, route.path);

        let mut su = app.database().superuser().await;
        let event = sqlx::query(
            "SELECT organization_id, actor_user_id, actor_kind, role, action, outcome, request_id, ip::text AS ip, occurred_at
               FROM audit_events ORDER BY occurred_at DESC, id DESC LIMIT 1",
        )
        .fetch_one(&mut su)
        .await
        .expect("event");
        assert_eq!(event.get::<Option<uuid::Uuid>, _>("organization_id"), Some(tenants.a.org.as_uuid()));
        assert_eq!(
            event.get::<Option<uuid::Uuid>, _>("actor_user_id"),
            Some(tenants.a.provider_user.as_uuid())
        );
        assert_eq!(event.get::<String, _>("actor_kind"), "user");
        assert_eq!(event.get::<Option<String>, _>("role").as_deref(), Some("provider"));
        assert_eq!(event.get::<String, _>("outcome"), "success");
        assert_eq!(event.get::<Option<String>, _>("request_id").as_deref(), Some("audit-coverage-1"));
    }
}

#[tokio::test]
async fn a_cross_tenant_probe_gets_404_without_the_other_tenants_bytes_and_is_audited() {
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    // TEN-05 over every declared route that takes a patient id, full page and htmx, as a
    // provider, or the front desk where only the front desk has the route's permission.
    let routes: Vec<_> = app.registry.iter().filter(|r| r.path.contains("{patient_id}")).cloned().collect();
    assert!(!routes.is_empty());
    for route in routes {
        let provider_may = route.access.clinic_permission().is_none_or(|permission| {
            lockdev::auth::policy::grants(
                lockdev::auth::policy::Principal::Staff(lockdev::auth::policy::StaffRole::Provider),
                permission,
            )
        });
        app.act_as(Some(if provider_may { tenants.a.provider_context() } else { tenants.a.desk_context() }));
        for htmx in [false, true] {
            let path = route.path.replace("{patient_id}", &tenants.b.patients[0].to_string());
            let mut request = app
                .client
                .request(route.method.clone(), app.url(&path))
                .header("X-CSRF-Token", app.csrf_token().await);
            if htmx {
                request = request.header("HX-Request", "true");
            }
            if route.method == axum::http::Method::POST {
                request = request.form(&[("family_name", "Hijacked")]);
            }
            let res = request.send().await.expect("request");
            assert_eq!(res.status(), 404, "{} {}", route.method, route.path);
            let body = res.text().await.expect("body");
            assert!(!body.contains(CANARY_B), "{} {} leaked B's data", route.method, route.path);
        }
    }
    // AUD-02: the probes were recorded as denials, in A's log, without PHI.
    let mut su = app.database().superuser().await;
    let denials = sqlx::query("SELECT organization_id, outcome, details::text AS details FROM audit_events WHERE action = 'authz_denied'")
        .fetch_all(&mut su)
        .await
        .expect("denials");
    assert!(denials.len() >= 2, "{}", denials.len());
    for denial in denials {
        assert_eq!(denial.get::<Option<uuid::Uuid>, _>("organization_id"), Some(tenants.a.org.as_uuid()));
        assert_eq!(denial.get::<String, _>("outcome"), "denied");
        let details: String = denial.get("details");
        assert!(!details.contains(CANARY_A) && !details.contains(CANARY_B), "{details}");
    }
    // B's record is untouched.
    let name: String = sqlx::query_scalar("SELECT family_name FROM patients WHERE id = $1")
        .bind(tenants.b.patients[0])
        .fetch_one(&mut su)
        .await
        .expect("B's patient");
    assert!(name.starts_with(CANARY_B));
}

#[tokio::test]
async fn a_forged_organization_id_in_a_form_is_ignored() {
    // TEN-06 through the application.
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 0).await;
    app.act_as(Some(tenants.a.desk_context()));
    let res = app
        .client
        .post(app.url("/test/patients"))
        .header("X-CSRF-Token", app.csrf_token().await)
        .form(&[
            ("mrn", "FORGED-1"),
            ("given_name", "Forged"),
            ("family_name", "Tenant"),
            ("date_of_birth", "1999-09-09"),
            ("organization_id", &tenants.b.org.as_uuid().to_string()),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let mut su = app.database().superuser().await;
    let org: uuid::Uuid = sqlx::query_scalar("SELECT organization_id FROM patients WHERE mrn = 'FORGED-1'")
        .fetch_one(&mut su)
        .await
        .expect("stored");
    assert_eq!(org, tenants.a.org.as_uuid());
}

#[tokio::test]
async fn a_role_without_the_permission_gets_403_and_a_recorded_denial() {
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    // The org admin has no patient data.
    app.act_as(Some(tenants.a.admin_context()));
    let res = app.get(&format!("/test/patients/{}", tenants.a.patients[0])).await;
    assert_eq!(res.status(), 403);
    assert!(!res.text().await.expect("body").contains(CANARY_A));
    let mut su = app.database().superuser().await;
    let reason: String = sqlx::query_scalar(
        "SELECT details->>'reason' FROM audit_events WHERE action = 'authz_denied' AND actor_user_id = $1",
    )
    .bind(tenants.a.admin_user)
    .fetch_one(&mut su)
    .await
    .expect("denial");
    assert_eq!(reason, "role_lacks_permission");
    // Signed out: sent to sign in.
    app.act_as(None);
    assert_eq!(app.get(&format!("/test/patients/{}", tenants.a.patients[0])).await.status(), 303);
}

#[tokio::test]
async fn if_the_audit_insert_fails_the_operation_fails_and_no_phi_is_served() {
    // AUD-07
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient = tenants.a.patients[0];
    sqlx::query("REVOKE INSERT ON audit_events FROM lockdev_runtime").execute(&owner).await.expect("revoke");
    app.act_as(Some(tenants.a.provider_context()));

    let res = app.get(&format!("/test/patients/{patient}")).await;
    assert_eq!(res.status(), 500);
    assert!(!res.text().await.expect("body").contains(CANARY_A), "no PHI without its audit event");

    let res = app
        .client
        .post(app.url(&format!("/test/patients/{patient}/family-name")))
        .header("X-CSRF-Token", app.csrf_token().await)
        .form(&[("family_name", "Unaudited")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 500);
    let mut su = app.database().superuser().await;
    let name: String = sqlx::query_scalar("SELECT family_name FROM patients WHERE id = $1")
        .bind(patient)
        .fetch_one(&mut su)
        .await
        .expect("patient");
    assert_ne!(name, "Unaudited", "the write was rolled back with its failed audit");
}

#[tokio::test]
async fn the_audit_log_refuses_update_delete_and_truncate_for_the_runtime_and_owner_roles() {
    // AUD-03 and AUD-04
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    app.act_as(Some(tenants.a.provider_context()));
    assert_eq!(app.get(&format!("/test/patients/{}", tenants.a.patients[0])).await.status(), 200);
    chain::seal_all(&app.pool).await.expect("seal");
    let runtime = app.database().runtime_pool().await;
    let partition: String = {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT tableoid::regclass::text FROM audit_events LIMIT 1")
            .fetch_one(&mut su)
            .await
            .expect("partition")
    };
    for (who, pool) in [("runtime", &runtime), ("owner", &owner)] {
        let mut tx =
            lockdev::db::tenant::begin_tenant(pool, &TenantContext::system(tenants.a.org)).await.expect("tx");
        sqlx::query("SAVEPOINT s").execute(&mut *tx).await.expect("savepoint");
        for statement in [
            "UPDATE audit_events SET purpose = 'rewritten'".to_owned(),
            "DELETE FROM audit_events".to_owned(),
            "TRUNCATE audit_events".to_owned(),
            format!("TRUNCATE {partition}"),
            format!("DELETE FROM {partition}"),
            format!("UPDATE {partition} SET purpose = 'rewritten'"),
            "UPDATE audit_seals SET seq = seq + 1".to_owned(),
            "DELETE FROM audit_seals".to_owned(),
            "TRUNCATE audit_seals".to_owned(),
        ] {
            // Refused outright, or (a partition reached directly, where row-level
            // security without a policy hides every row) nothing to act on.
            match sqlx::query(&statement).execute(&mut *tx).await {
                Err(error) => {
                    let text = error.to_string();
                    assert!(
                        text.contains("append-only") || text.contains("permission denied"),
                        "{who}: {statement}: {text}"
                    );
                }
                Ok(done) => {
                    assert!(statement.contains(&partition), "{who}: {statement} was allowed");
                    assert_eq!(done.rows_affected(), 0, "{who}: {statement}");
                }
            }
            sqlx::query("ROLLBACK TO SAVEPOINT s").execute(&mut *tx).await.expect("rollback to savepoint");
        }
    }
    let mut su = app.database().superuser().await;
    let purpose: Option<String> =
        sqlx::query_scalar("SELECT purpose FROM audit_events WHERE action = 'read'")
            .fetch_one(&mut su)
            .await
            .expect("event");
    assert_eq!(purpose.as_deref(), Some("test.demographics"));
}

/// Events for tenant A, sealed, ready to be tampered with.
async fn sealed_log() -> (TestDatabase, crate::fixtures::TwoTenants) {
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 3).await;
    app.act_as(Some(tenants.a.provider_context()));
    for patient in &tenants.a.patients {
        assert_eq!(app.get(&format!("/test/patients/{patient}")).await.status(), 200);
    }
    app.act_as(Some(tenants.b.provider_context()));
    assert_eq!(app.get(&format!("/test/patients/{}", tenants.b.patients[0])).await.status(), 200);
    let sealed = chain::seal_all(&app.pool).await.expect("seal");
    assert_eq!(sealed, 4);
    (app.database().clone(), tenants)
}

fn verify_cli(db: &TestDatabase) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockdev"))
        .args(["audit", "verify"])
        .env_clear()
        .env("LOCKDEV_ENV", "development")
        .env("LOCKDEV_DATABASE_URL", &db.runtime_url)
        .env("LOCKDEV_LOG", "error")
        .output()
        .expect("run lockdev audit verify");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn an_untouched_log_verifies() {
    let (db, tenants) = sealed_log().await;
    let (ok, out) = verify_cli(&db);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("ok      organization {}: 3 sealed, 0 pending", tenants.a.org)), "{out}");
    assert!(out.contains(&format!("ok      organization {}: 1 sealed, 0 pending", tenants.b.org)), "{out}");
}

#[tokio::test]
async fn every_kind_of_tampering_by_a_superuser_is_found_by_audit_verify() {
    // AUD-05: edit a field, delete a row, reorder, forge — each on a fresh log.
    let tampers: [(&str, &str, &str); 5] = [
        (
            "edit a field",
            "UPDATE audit_events SET purpose = 'nothing to see' WHERE id = (SELECT event_id FROM audit_seals WHERE organization_id = $1 AND seq = 2)",
            "seal 2: event",
        ),
        (
            "delete a row",
            "DELETE FROM audit_events WHERE id = (SELECT event_id FROM audit_seals WHERE organization_id = $1 AND seq = 1)",
            "seal 1: event",
        ),
        (
            "reorder the chain",
            "UPDATE audit_seals SET seq = 1000 WHERE organization_id = $1 AND seq = 2;
             UPDATE audit_seals SET seq = 2 WHERE organization_id = $1 AND seq = 3;
             UPDATE audit_seals SET seq = 3 WHERE organization_id = $1 AND seq = 1000;",
            "seal 2 does not continue the chain",
        ),
        (
            "swap two events' contents",
            "UPDATE audit_events e SET patient_id = (SELECT patient_id FROM audit_events x WHERE x.id <> e.id AND x.organization_id = $1 AND x.action = 'read' LIMIT 1) WHERE e.id = (SELECT event_id FROM audit_seals WHERE organization_id = $1 AND seq = 3)",
            "seal 3: event",
        ),
        (
            "forge a back-dated event",
            "INSERT INTO audit_events (organization_id, occurred_at, actor_kind, action, outcome) VALUES ($1, now() - interval '1 day', 'user', 'read', 'success')",
            "not sealed but is older than sealed events",
        ),
    ];
    for (what, sql, expected) in tampers {
        let (db, tenants) = sealed_log().await;
        let mut su = db.superuser().await;
        // As a superuser, with every trigger off: the strongest attacker short of
        // rewriting the whole chain.
        sqlx::query("SET session_replication_role = replica").execute(&mut su).await.expect("triggers off");
        let sql = sql.replace("$1", &format!("'{}'::uuid", tenants.a.org.as_uuid()));
        let changed = sqlx::raw_sql(&sql).execute(&mut su).await.expect(what).rows_affected();
        assert!(changed > 0, "{what}: the tamper changed nothing");
        let (ok, out) = verify_cli(&db);
        assert!(!ok, "{what}: verify passed:\n{out}");
        let line = out.lines().find(|l| l.starts_with("BROKEN")).unwrap_or_default();
        assert!(line.contains(&tenants.a.org.to_string()) && line.contains(expected), "{what}: {out}");
        // The other tenant's chain is still intact.
        assert!(out.contains(&format!("ok      organization {}", tenants.b.org)), "{what}: {out}");
    }
}

#[tokio::test]
async fn concurrent_sealers_never_seal_an_event_twice() {
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 5).await;
    app.act_as(Some(tenants.a.provider_context()));
    for patient in &tenants.a.patients {
        app.get(&format!("/test/patients/{patient}")).await;
    }
    let (a, b) = tokio::join!(
        chain::seal(&app.pool, Chain::Organization(tenants.a.org)),
        chain::seal(&app.pool, Chain::Organization(tenants.a.org))
    );
    assert_eq!(a.expect("sealer a") + b.expect("sealer b"), 5);
    let report = chain::verify(&app.pool, Chain::Organization(tenants.a.org)).await.expect("verify");
    assert_eq!((report.sealed, report.pending, report.problem), (5, 0, None));
}

/// The runtime role writes no seal: sealing is the database's own function, which hashes
/// only events that exist onto the chain's head. What it seals — events with every kind
/// of awkward value — verifies in the application's independent recomputation.
#[tokio::test]
async fn the_runtime_role_cannot_write_a_seal_and_the_databases_seals_verify() {
    let (db, tenants) = sealed_log().await;
    let runtime = db.runtime_pool().await;
    let mut tx =
        lockdev::db::tenant::begin_tenant(&runtime, &TenantContext::system(tenants.a.org)).await.expect("tx");
    let forged = sqlx::query(
        "INSERT INTO audit_seals (organization_id, seq, event_id, event_occurred_at, prev_hash, hash)
         VALUES ($1, 99, gen_random_uuid(), now(), '\\x00'::bytea, '\\x00'::bytea)",
    )
    .bind(tenants.a.org)
    .execute(&mut *tx)
    .await
    .expect_err("no INSERT on seals");
    assert_eq!(forged.as_database_error().and_then(|e| e.code()).as_deref(), Some("42501"), "{forged}");
    drop(tx);

    // Awkward values: quotes, backslashes, control characters, non-ASCII, nested JSON.
    let mut tx =
        lockdev::db::tenant::begin_tenant(&runtime, &TenantContext::system(tenants.a.org)).await.expect("tx");
    sqlx::query(
        "INSERT INTO audit_events (organization_id, actor_kind, action, outcome, purpose, user_agent, ip, details, role)
         VALUES ($1, 'user', 'read', 'success', $2, $3, '2001:db8::1', $4, 'provider')",
    )
    .bind(tenants.a.org)
    .bind("quote \" backslash \\ tab \t newline \n bell \u{7} del \u{7f}")
    .bind("Mozilla/5.0 (Ünïcödé; 日本語) \u{2028} \u{1F600}")
    .bind(serde_json::json!({ "nested": { "b": [1, 2.5, null, true], "a": "é\"\\" }, "count": 3 }))
    .execute(&mut *tx)
    .await
    .expect("event");
    tx.commit().await.expect("commit");
    assert_eq!(chain::seal_all(&runtime).await.expect("seal"), 1);
    let (ok, out) = verify_cli(&db);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("ok      organization {}: 4 sealed, 0 pending", tenants.a.org)), "{out}");
}
