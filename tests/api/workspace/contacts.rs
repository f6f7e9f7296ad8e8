//! Contacts and their safety flags.

use lockdev::auth::policy::StaffRole;
use sqlx::Row;
use uuid::Uuid;

use super::{get, member, post, setup};

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
