//! Constraints of the data model that keep bad data out whatever writes it.

use lockdev::db::tenant::{TenantContext, begin_tenant};

use crate::fixtures::two_tenants;
use crate::helpers::TestDatabase;

#[tokio::test]
async fn the_database_refuses_malformed_clinical_identifiers_and_contacts() {
    let db = TestDatabase::create().await;
    let owner = db.owner_pool().await;
    let tenants = two_tenants(&owner, 2).await;
    let runtime = db.runtime_pool().await;
    let org = tenants.a.org;
    let patient = tenants.a.patients[0];
    let cases: Vec<(&str, String)> = vec![
        (
            "NPI with a wrong check digit",
            format!(
                "INSERT INTO providers (organization_id, user_id, npi, credentials) VALUES ('{}', '{}', '1234567890', 'MD')",
                org.as_uuid(),
                tenants.a.desk_user.as_uuid()
            ),
        ),
        (
            "DEA number with a wrong check digit",
            format!(
                "UPDATE providers SET dea_number = 'AB1234564' WHERE id = '{}'",
                tenants.a.provider.as_uuid()
            ),
        ),
        (
            "phone not in E.164",
            format!(
                "INSERT INTO contact_methods (organization_id, patient_id, kind, value) VALUES ('{}', '{}', 'mobile', '617-555-0100')",
                org.as_uuid(),
                patient.as_uuid()
            ),
        ),
        (
            "SMS to a landline",
            format!(
                "INSERT INTO contact_methods (organization_id, patient_id, kind, value, is_safe_for_sms) VALUES ('{}', '{}', 'home', '+16175550100', true)",
                org.as_uuid(),
                patient.as_uuid()
            ),
        ),
        (
            "voicemail to an e-mail address",
            format!(
                "INSERT INTO contact_methods (organization_id, patient_id, kind, value, is_safe_for_voicemail) VALUES ('{}', '{}', 'email', 'a@b.example', true)",
                org.as_uuid(),
                patient.as_uuid()
            ),
        ),
        (
            "a second MRN alike",
            format!(
                "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex) VALUES ('{}', 'MRN-0', 'A', 'B', '1990-01-01', 'female')",
                org.as_uuid()
            ),
        ),
        (
            "a revoked grant without its time",
            format!(
                "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, status) VALUES ('{}', '{}', '{}', 'parent', 'revoked')",
                org.as_uuid(),
                patient.as_uuid(),
                tenants.a.desk_user.as_uuid()
            ),
        ),
        (
            "one number twice on one chart",
            format!(
                "INSERT INTO contact_methods (organization_id, patient_id, kind, value) VALUES ('{0}', '{1}', 'mobile', '+16175550199'), ('{0}', '{1}', 'home', '+16175550199')",
                org.as_uuid(),
                patient.as_uuid()
            ),
        ),
        (
            "a second primary provider",
            format!(
                "INSERT INTO care_team_members (organization_id, patient_id, provider_id, role) VALUES ('{}', '{}', '{}', 'primary')",
                org.as_uuid(),
                patient.as_uuid(),
                tenants.a.provider.as_uuid()
            ),
        ),
    ];
    for (what, sql) in cases {
        let mut tx = begin_tenant(&runtime, &TenantContext::system(org)).await.expect("tx");
        let result = sqlx::raw_sql(&sql).execute(&mut *tx).await;
        assert!(result.is_err(), "{what} was accepted");
    }
    // A household shares a number: the same one on two charts is fine.
    let mut tx = begin_tenant(&runtime, &TenantContext::system(org)).await.expect("tx");
    sqlx::raw_sql(&format!(
        "INSERT INTO contact_methods (organization_id, patient_id, kind, value) VALUES ('{0}', '{1}', 'home', '+16175550198'), ('{0}', '{2}', 'home', '+16175550198')",
        org.as_uuid(),
        patient.as_uuid(),
        tenants.a.patients[1].as_uuid()
    ))
    .execute(&mut *tx)
    .await
    .expect("one number on two charts");
    tx.commit().await.expect("commit");
    // The same MRN in another clinic is fine: uniqueness is per tenant.
    let mut tx = begin_tenant(&runtime, &TenantContext::system(tenants.b.org)).await.expect("tx");
    sqlx::raw_sql(&format!(
        "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex) VALUES ('{}', 'MRN-0', 'A', 'B', '1990-01-01', 'female')",
        tenants.b.org.as_uuid()
    ))
    .execute(&mut *tx)
    .await
    .expect_err("B already has MRN-0 of its own");
    let mut tx = begin_tenant(&runtime, &TenantContext::system(tenants.b.org)).await.expect("tx");
    sqlx::raw_sql(&format!(
        "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex) VALUES ('{}', 'MRN-7', 'A', 'B', '1990-01-01', 'female')",
        tenants.b.org.as_uuid()
    ))
    .execute(&mut *tx)
    .await
    .expect("a new MRN in B");
}

#[tokio::test]
async fn ids_made_by_the_database_are_ulids_in_time_order() {
    let db = TestDatabase::create().await;
    let mut su = db.superuser().await;
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT new_ulid() FROM generate_series(1, 50)")
        .fetch_all(&mut su)
        .await
        .expect("ids");
    let now_ms = chrono::Utc::now().timestamp_millis() as u64;
    for id in &ids {
        let ulid = ulid::Ulid::from(*id);
        assert!(ulid.timestamp_ms().abs_diff(now_ms) < 60_000, "timestamp part is now");
    }
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}
