//! Contacts and their safety flags.

use lockdev::auth::policy::StaffRole;
use sqlx::Row;
use uuid::Uuid;

use super::{count, get, in_clinic, member, post, setup, ulid};
use crate::helpers::TestApp;

// ---- contacts -----------------------------------------------------------------------------

#[tokio::test]
async fn contacts_are_normalized_flagged_verified_and_removed_softly() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    let path = format!("/patients/{patient}/contacts");
    app.act_as(Some(tenants.a.desk_context()));
    let (status, body) = post(&app, &path, &[("kind", "home"), ("value", "555-12")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("too short"), "{body}");
    assert!(body.contains("value=\"555-12\""), "the typed value stays");
    // A home number cannot be texted: the SMS flag is dropped, voicemail kept.
    let (status, body) = post(
        &app,
        &path,
        &[("kind", "home"), ("value", "(617) 201-3344"), ("safe_voicemail", "1"), ("safe_sms", "1")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("(617) 201-3344"));
    let (status, body) = post(&app, &path, &[("kind", "mobile"), ("value", "617.201.3344")]).await;
    assert_eq!(status, 422, "the same number twice");
    assert!(body.contains("already on file"));
    let mut su = app.database().superuser().await;
    let row = sqlx::query(
        "SELECT id, value, is_safe_for_voicemail, is_safe_for_sms FROM contact_methods WHERE patient_id = $1 AND kind = 'home'",
    )
    .bind(patient)
    .fetch_one(&mut su)
    .await
    .expect("contact");
    assert_eq!(row.get::<String, _>("value"), "+16172013344");
    assert!(row.get::<bool, _>("is_safe_for_voicemail"));
    assert!(!row.get::<bool, _>("is_safe_for_sms"));
    let contact: Uuid = row.get("id");
    let contact = lockdev::db::ids::ContactMethodId::from_uuid(contact);

    // Clinical staff may edit contacts but not decide where messages go (AZ-04): the
    // flags they send are ignored, the stored ones stay.
    let (nurse, _) = member(&app, tenants.a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    let (status, body) = post(
        &app,
        &format!("{path}/{contact}"),
        &[("kind", "home"), ("value", "6172013344"), ("label", "Landline")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let safe: bool = sqlx::query_scalar("SELECT is_safe_for_voicemail FROM contact_methods WHERE id = $1")
        .bind(contact)
        .fetch_one(&mut su)
        .await
        .expect("flag");
    assert!(safe, "a role without EditContactSafety cannot clear a flag");

    app.act_as(Some(tenants.a.desk_context()));
    assert_eq!(post(&app, &format!("{path}/{contact}/verify"), &[]).await.0, 200);
    let verified: bool = sqlx::query_scalar(
        "SELECT verified_at IS NOT NULL AND verified_by IS NOT NULL FROM contact_methods WHERE id = $1",
    )
    .bind(contact)
    .fetch_one(&mut su)
    .await
    .expect("verified");
    assert!(verified);
    // A changed value is no longer verified.
    assert_eq!(
        post(&app, &format!("{path}/{contact}"), &[("kind", "home"), ("value", "617-201-3345")]).await.0,
        200
    );
    let verified: bool =
        sqlx::query_scalar("SELECT verified_at IS NOT NULL FROM contact_methods WHERE id = $1")
            .bind(contact)
            .fetch_one(&mut su)
            .await
            .expect("verified");
    assert!(!verified);
    assert_eq!(post(&app, &format!("{path}/{contact}/remove"), &[]).await.0, 200);
    let deleted: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM contact_methods WHERE id = $1")
            .bind(contact)
            .fetch_one(&mut su)
            .await
            .expect("row kept");
    assert!(deleted);
    assert_eq!(get(&app, &format!("{path}/{contact}/edit")).await.0, 404);
}

// ---- CON-06 (outside review): a changed contact is unknown, so unsafe ----------------------

#[tokio::test]
async fn editing_a_safe_contacts_number_clears_its_safety_unless_the_editor_sets_it() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let contact = in_clinic(
        &app,
        a.org,
        "UPDATE contact_methods SET is_safe_for_sms = true, is_safe_for_voicemail = true WHERE patient_id = $1 RETURNING id",
        &[&patient.as_uuid()],
    )
    .await
    .expect("contact");
    let path = format!("/patients/{patient}/contacts/{}", ulid(contact));
    let flags_sql = format!(
        "SELECT (is_safe_for_sms::int * 2 + is_safe_for_voicemail::int)::bigint FROM contact_methods WHERE id = '{contact}'"
    );
    let flags = async |app: &TestApp| count(app, &flags_sql).await;
    // A nurse (who may not decide where messages go) changes the number, sending the flags
    // along as if she could: the new number is unsafe, whatever the form said.
    let (nurse, _) = member(&app, a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse.clone()));
    let (status, body) = post(
        &app,
        &path,
        &[("kind", "mobile"), ("value", "6172019988"), ("safe_sms", "1"), ("safe_voicemail", "1")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no automated message goes to it"), "{body}");
    assert_eq!(flags(&app).await, 0, "a changed number starts unknown = unsafe");
    // The front desk marks it safe again; an edit that keeps the number keeps the flags.
    app.act_as(Some(a.desk_context()));
    post(&app, &path, &[("kind", "mobile"), ("value", "6172019988"), ("safe_sms", "1")]).await;
    assert_eq!(flags(&app).await, 2);
    app.act_as(Some(nurse));
    post(&app, &path, &[("kind", "mobile"), ("value", "(617) 201-9988"), ("label", "Cell")]).await;
    assert_eq!(flags(&app).await, 2, "the same number, written another way, keeps its flags");
}

#[tokio::test]
async fn confidential_communication_is_lifted_only_by_those_who_set_contact_safety() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    let demographics = |confidential: bool| {
        let mut fields = vec![
            ("given_name", "Ines"),
            ("family_name", "Private"),
            ("date_of_birth", "2010-01-01"),
            ("legal_sex", "female"),
            ("confidential_note", "Mobile only"),
        ];
        if confidential {
            fields.push(("confidential_communication", "1"));
        }
        fields
    };
    let stored = async || -> bool {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT confidential_communication FROM patients WHERE id = $1")
            .bind(patient)
            .fetch_one(&mut su)
            .await
            .expect("flag")
    };
    // Clinical staff may turn it on, not off.
    let (nurse, _) = member(&app, tenants.a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    assert_eq!(post(&app, &format!("/patients/{patient}"), &demographics(true)).await.0, 200);
    assert!(stored().await);
    assert_eq!(post(&app, &format!("/patients/{patient}"), &demographics(false)).await.0, 200);
    assert!(stored().await, "clinical staff cannot lift it");
    // The front desk (who sets contact safety) may.
    app.act_as(Some(tenants.a.desk_context()));
    assert_eq!(post(&app, &format!("/patients/{patient}"), &demographics(false)).await.0, 200);
    assert!(!stored().await);
}
