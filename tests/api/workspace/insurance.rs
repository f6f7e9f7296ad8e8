//! Insurance from the card, kept by the front desk; emergency contacts, never messaged.

use lockdev::auth::policy::StaffRole;

use super::{count, get, member, post, setup};

#[tokio::test]
async fn the_front_desk_copies_coverage_from_the_card_one_policy_per_rank() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let section = format!("/patients/{patient}/insurance");
    app.act_as(Some(a.desk_context()));
    let card = [
        ("priority", "primary"),
        ("payer", "Blue Cross"),
        ("member_id", "xyz 123 456"),
        ("group_number", "g-77"),
        ("subscriber_relationship", "spouse"),
        ("subscriber_name", ""),
    ];
    let (status, body) = post(&app, &section, &card).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("Name the person who holds the policy") && body.contains(r#"value="xyz 123 456""#),
        "{body}"
    );
    let mut card = card.to_vec();
    card[5] = ("subscriber_name", "John Doe");
    let (status, body) = post(&app, &section, &card).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("XYZ123456") && body.contains("G-77") && body.contains("John Doe, spouse or partner"),
        "{body}"
    );
    let (status, body) = post(&app, &section, &card).await;
    assert_eq!(status, 422, "one primary at a time: {body}");

    let id: uuid::Uuid = {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT id FROM insurance_policies WHERE patient_id = $1")
            .bind(patient)
            .fetch_one(&mut su)
            .await
            .expect("policy")
    };
    let end = format!("{section}/{}/end", super::ulid(id));
    assert_eq!(post(&app, &end, &[("reason", "")]).await.0, 422, "a reason is asked");
    let (status, body) = post(&app, &end, &[("reason", "Coverage ended 2026-11-30")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Ended (1)"), "{body}");
    assert_eq!(post(&app, &section, &card).await.0, 200, "the rank is free again");

    // Clinicians read coverage, do not edit it; another clinic finds nothing.
    app.act_as(Some(a.provider_context()));
    assert_eq!(get(&app, &section).await.0, 200);
    assert_eq!(post(&app, &section, &card).await.0, 403);
    let (nurse, _) = member(&app, a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    assert_eq!(post(&app, &end, &[("reason", "x")]).await.0, 403);
    app.act_as(Some(tenants.b.desk_context()));
    assert_eq!(get(&app, &section).await.0, 404);
    let rows = format!("SELECT count(*) FROM insurance_policies WHERE patient_id = '{}'", patient.as_uuid());
    assert_eq!(count(&app, &rows).await, 2, "the ended one kept");
}

#[tokio::test]
async fn emergency_contacts_are_kept_apart_from_the_patients_own_contacts() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let section = format!("/patients/{patient}/emergency-contacts");
    app.act_as(Some(a.desk_context()));
    let (status, body) =
        post(&app, &section, &[("name", "Maria Silva"), ("relationship", ""), ("phone", "12")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains(r#"value="Maria Silva""#), "{body}");
    let methods = format!("SELECT count(*) FROM contact_methods WHERE patient_id = '{}'", patient.as_uuid());
    let before = count(&app, &methods).await;
    for (name, phone) in
        [("Maria Silva", "(617) 201-3399"), ("Jo Silva", "617 201 3398"), ("Ann Lee", "6172013397")]
    {
        let (status, body) =
            post(&app, &section, &[("name", name), ("relationship", "Sister"), ("phone", phone)]).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = post(
        &app,
        &section,
        &[("name", "One Too Many"), ("relationship", "Friend"), ("phone", "6172013396")],
    )
    .await;
    assert_eq!(status, 422, "three at most: {body}");
    let (status, body) = get(&app, &section).await;
    assert_eq!(status, 200);
    assert!(body.contains("tel:+16172013399"), "{body}");
    assert_eq!(count(&app, &methods).await, before, "never one of the patient's contact methods");

    app.act_as(Some(tenants.b.desk_context()));
    assert_eq!(get(&app, &section).await.0, 404);
}
