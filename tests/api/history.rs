//! Write history by triggers: every change to clinical and identity rows is on record,
//! including changes made outside the application.

use lockdev::db::tenant::TenantContext;
use serde_json::Value;
use sqlx::Row;

use crate::fixtures::two_tenants;
use crate::helpers::{TestDatabase, spawn_app};

#[tokio::test]
async fn a_change_made_with_plain_sql_outside_the_app_is_in_the_history_with_both_images() {
    let db = TestDatabase::create().await;
    let owner = db.owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient = tenants.a.patients[0];

    // An operator with the owner role's credentials, in psql: row-level security is forced
    // for the owner too, so they must name the tenant, but the application is not involved.
    let mut conn = crate::helpers::connect(&db.owner_url).await;
    sqlx::query("BEGIN").execute(&mut conn).await.expect("begin");
    sqlx::query("SELECT set_config('app.organization_id', $1, true)")
        .bind(tenants.a.org.as_uuid().to_string())
        .execute(&mut conn)
        .await
        .expect("tenant");
    sqlx::query("UPDATE patients SET family_name = 'Quietly-Changed' WHERE id = $1")
        .bind(patient)
        .execute(&mut conn)
        .await
        .expect("update");
    sqlx::query("COMMIT").execute(&mut conn).await.expect("commit");

    let mut su = db.superuser().await;
    let row = sqlx::query(
        "SELECT old_row, new_row, actor_label, actor_user_id, db_role, organization_id
           FROM row_history WHERE table_name = 'patients' AND row_id = $1 AND operation = 'UPDATE'",
    )
    .bind(patient)
    .fetch_one(&mut su)
    .await
    .expect("a history row for the update");
    let old: Value = row.get("old_row");
    let new: Value = row.get("new_row");
    assert!(old["family_name"].as_str().is_some_and(|n| n.starts_with("ALPHA-CANARY")), "{old}");
    assert_eq!(new["family_name"], "Quietly-Changed");
    assert_eq!(row.get::<String, _>("actor_label"), "unknown");
    assert_eq!(row.get::<Option<uuid::Uuid>, _>("actor_user_id"), None);
    assert_eq!(row.get::<String, _>("db_role"), "lockdev_owner");
    assert_eq!(row.get::<Option<uuid::Uuid>, _>("organization_id"), Some(tenants.a.org.as_uuid()));
}

#[tokio::test]
async fn a_change_through_the_app_names_the_user_and_shares_the_audit_events_transaction() {
    let app = spawn_app().routes(crate::fixtures::phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient = tenants.a.patients[0];
    app.act_as(Some(tenants.a.desk_context()));
    let res = app
        .client
        .post(app.url(&format!("/test/patients/{patient}/family-name")))
        .header("X-CSRF-Token", app.csrf_token().await)
        .form(&[("family_name", "Renamed")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);

    let mut su = app.database().superuser().await;
    let history = sqlx::query(
        "SELECT txid, actor_label, actor_user_id FROM row_history
          WHERE table_name = 'patients' AND row_id = $1 AND operation = 'UPDATE'",
    )
    .bind(patient)
    .fetch_one(&mut su)
    .await
    .expect("history");
    assert_eq!(history.get::<String, _>("actor_label"), "user");
    assert_eq!(history.get::<Option<uuid::Uuid>, _>("actor_user_id"), Some(tenants.a.desk_user.as_uuid()));
    let audit_txid: i64 =
        sqlx::query_scalar("SELECT txid FROM audit_events WHERE action = 'update' AND patient_id = $1")
            .bind(patient)
            .fetch_one(&mut su)
            .await
            .expect("audit event");
    assert_eq!(history.get::<i64, _>("txid"), audit_txid);
}

#[tokio::test]
async fn secrets_stay_out_of_the_history_images() {
    let db = TestDatabase::create().await;
    let owner = db.owner_pool().await;
    let tenants = two_tenants(&owner, 0).await;
    let mut tx = lockdev::db::tenant::begin_system(&owner, &Default::default()).await.expect("tx");
    sqlx::query(
        "UPDATE users SET password_hash = '$argon2id$v=19$m=19456,t=2,p=1$SECRET-CANARY' WHERE id = $1",
    )
    .bind(tenants.a.desk_user)
    .execute(&mut *tx)
    .await
    .expect("update");
    tx.commit().await.expect("commit");
    let mut su = db.superuser().await;
    let images: Vec<String> = sqlx::query_scalar(
        "SELECT coalesce(old_row::text, '') || coalesce(new_row::text, '') FROM row_history WHERE table_name = 'users'",
    )
    .fetch_all(&mut su)
    .await
    .expect("history");
    assert!(!images.is_empty());
    assert!(
        images.iter().all(|i| !i.contains("SECRET-CANARY") && !i.contains("password_hash")),
        "{images:?}"
    );
}

#[tokio::test]
async fn the_history_is_append_only_for_the_runtime_and_the_owner_role() {
    let db = TestDatabase::create().await;
    let owner = db.owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let runtime = db.runtime_pool().await;
    for (who, pool) in [("runtime", &runtime), ("owner", &owner)] {
        let mut tx =
            lockdev::db::tenant::begin_tenant(pool, &TenantContext::system(tenants.a.org)).await.expect("tx");
        sqlx::query("SAVEPOINT s").execute(&mut *tx).await.expect("savepoint");
        for statement in
            ["UPDATE row_history SET actor_label = 'user'", "DELETE FROM row_history", "TRUNCATE row_history"]
        {
            let error = sqlx::query(statement).execute(&mut *tx).await.expect_err(statement);
            let text = error.to_string();
            assert!(
                text.contains("append-only") || text.contains("permission denied"),
                "{who}: {statement}: {text}"
            );
            sqlx::query("ROLLBACK TO SAVEPOINT s").execute(&mut *tx).await.expect("rollback to savepoint");
        }
    }
}
