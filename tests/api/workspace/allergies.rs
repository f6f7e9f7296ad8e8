//! Allergies: clinicians record them, "no known allergies" is a statement, the header
//! shows them to those who may read the clinical summary, and nothing else changes them.

use lockdev::auth::policy::StaffRole;

use super::{count, get, member, post, setup, ulid};

/// A provider's whole round: not recorded, no known allergies, an allergy (which
/// withdraws the statement), a duplicate refused, the statement refused while one is
/// current, and an allergy ended with its reason; the header follows each step.
#[tokio::test]
async fn clinicians_record_allergies_and_no_known_allergies_is_a_statement() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let section = format!("/patients/{patient}/allergies");
    app.act_as(Some(a.provider_context()));

    let (status, body) = get(&app, &section).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Not recorded"), "nobody asked yet: {body}");

    let (status, body) = post(&app, &format!("{section}/none-known"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No known allergies"), "{body}");

    // A refusal names the field and keeps what was typed.
    let (status, body) =
        post(&app, &section, &[("substance", "Penicillin"), ("reaction", "Hives"), ("severity", "")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Choose a severity"), "{body}");
    assert!(body.contains(r#"value="Penicillin""#) && body.contains(r#"value="Hives""#), "kept: {body}");
    let rows = format!("SELECT count(*) FROM allergies WHERE patient_id = '{}'", patient.as_uuid());
    assert_eq!(count(&app, &rows).await, 0, "a refusal writes nothing");

    let (status, body) =
        post(&app, &section, &[("substance", "Penicillin"), ("reaction", "Hives"), ("severity", "severe")])
            .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Penicillin (severe)"), "the header lists it: {body}");
    let statement = format!(
        "SELECT count(*) FROM patients WHERE id = '{}' AND no_known_allergies_at IS NOT NULL",
        patient.as_uuid()
    );
    assert_eq!(count(&app, &statement).await, 0, "recording an allergy withdraws \"no known allergies\"");

    let (status, body) = post(&app, &section, &[("substance", " penicillin"), ("severity", "mild")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("already on the list"), "{body}");
    let (status, body) = post(&app, &format!("{section}/none-known"), &[]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(count(&app, &statement).await, 0);

    let id: uuid::Uuid = {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT id FROM allergies WHERE patient_id = $1")
            .bind(patient)
            .fetch_one(&mut su)
            .await
            .expect("allergy")
    };
    let end = format!("{section}/{}/end", ulid(id));
    let (status, body) = post(&app, &end, &[("detail", "wrong chart")]).await;
    assert_eq!(status, 422, "a reason is chosen: {body}");
    let (status, body) = post(&app, &end, &[("reason", "entered_in_error"), ("detail", "wrong chart")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Entered in error: wrong chart"), "kept in the history: {body}");
    assert!(body.contains("Not recorded"), "the header no longer lists it: {body}");
    let (status, _) = post(&app, &end, &[("reason", "resolved")]).await;
    assert_eq!(status, 404, "an allergy ends once");

    // Every answer that showed the list is on record for this patient.
    let events = format!(
        "SELECT count(*) FROM audit_events WHERE patient_id = '{}' AND purpose = 'chart.allergies'",
        patient.as_uuid()
    );
    assert!(count(&app, &events).await >= 8, "audited");
}

/// The front desk neither reads nor records allergies (the header shows them nothing
/// either); clinical staff record them; another clinic's chart is not found; in a clinic
/// that keeps charts to the care team, a provider outside it gets 404.
#[tokio::test]
async fn allergies_follow_the_clinical_policy() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let section = format!("/patients/{patient}/allergies");
    app.act_as(Some(a.provider_context()));
    let (status, _) = post(&app, &section, &[("substance", "Latex"), ("severity", "moderate")]).await;
    assert_eq!(status, 200);

    app.act_as(Some(a.desk_context()));
    assert_eq!(get(&app, &section).await.0, 403);
    let (status, _) = post(&app, &section, &[("substance", "Peanuts"), ("severity", "severe")]).await;
    assert_eq!(status, 403);
    let (status, summary) = get(&app, &format!("/patients/{patient}")).await;
    assert_eq!(status, 200);
    assert!(!summary.contains("Latex"), "the front desk's header shows no allergies: {summary}");

    let (nurse, _) = member(&app, a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    let (status, body) = post(&app, &section, &[("substance", "Peanuts"), ("severity", "severe")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Peanuts (severe), Latex (moderate)"), "the most severe first: {body}");

    app.act_as(Some(tenants.b.provider_context()));
    assert_eq!(get(&app, &section).await.0, 404, "another clinic's patient is not there");

    super::notes::set_chart_access(&app, a.org, "care_team_only").await;
    let (outsider, _) = member(&app, a.org, StaffRole::Provider).await;
    app.act_as(Some(outsider));
    assert_eq!(get(&app, &section).await.0, 404);
    let (status, summary) = get(&app, &format!("/patients/{patient}")).await;
    assert_eq!(status, 200);
    assert!(!summary.contains("Peanuts"), "nor does the header show them: {summary}");
}
