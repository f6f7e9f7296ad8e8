//! The problem list: coded or not, resolved with a date, corrected as entered in error.

use lockdev::auth::policy::StaffRole;

use super::{count, get, member, post, setup, ulid};

async fn problem_id(app: &crate::helpers::TestApp, description: &str) -> String {
    let mut su = app.database().superuser().await;
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM problems WHERE description = $1")
        .bind(description)
        .fetch_one(&mut su)
        .await
        .expect("problem");
    ulid(id)
}

#[tokio::test]
async fn a_problem_list_takes_checked_codes_and_keeps_what_was_resolved() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let section = format!("/patients/{patient}/problems");
    app.act_as(Some(a.provider_context()));

    // A code that is neither ICD-10 nor a SNOMED CT id (bad check digit) is refused next
    // to its field, and what was typed stays.
    let (status, body) =
        post(&app, &section, &[("description", "Type 2 diabetes"), ("code", "44054007"), ("onset_on", "")])
            .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("check digit"), "{body}");
    assert!(body.contains(r#"value="Type 2 diabetes""#), "{body}");
    let (status, body) = post(&app, &section, &[("description", "Asthma"), ("onset_on", "2999-01-01")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("in the future"), "{body}");
    let rows = format!("SELECT count(*) FROM problems WHERE patient_id = '{}'", patient.as_uuid());
    assert_eq!(count(&app, &rows).await, 0, "refusals write nothing");

    let (status, body) = post(
        &app,
        &section,
        &[("description", "Type 2 diabetes"), ("code", "44054006"), ("onset_on", "2019-05-01")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("SNOMED CT 44054006") && body.contains("since 2019-05-01"), "{body}");
    let (status, body) = post(&app, &section, &[("description", "Hypertension"), ("code", "i10")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ICD-10 I10"), "{body}");
    let (status, body) =
        post(&app, &section, &[("description", "Essential hypertension"), ("code", "I10")]).await;
    assert_eq!(status, 422, "the same code is active already: {body}");

    let diabetes = problem_id(&app, "Type 2 diabetes").await;
    let (status, _) =
        post(&app, &format!("{section}/{diabetes}/resolve"), &[("resolved_on", "2018-01-01")]).await;
    assert_eq!(status, 404, "not resolved before it began");
    let (status, body) = post(&app, &format!("{section}/{diabetes}/resolve"), &[("resolved_on", "")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Resolved (1)"), "{body}");
    let hypertension = problem_id(&app, "Hypertension").await;
    let (status, body) =
        post(&app, &format!("{section}/{hypertension}/error"), &[("detail", "other patient")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No active problem"), "{body}");
    let kept = format!(
        "SELECT count(*) FROM problems WHERE patient_id = '{}' AND ended_reason = 'Entered in error: other patient'",
        patient.as_uuid()
    );
    assert_eq!(count(&app, &kept).await, 1, "kept, with why");

    app.act_as(Some(a.desk_context()));
    assert_eq!(get(&app, &section).await.0, 403);
    let (nurse, _) = member(&app, a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    assert_eq!(get(&app, &section).await.0, 200);
    app.act_as(Some(tenants.b.provider_context()));
    assert_eq!(get(&app, &section).await.0, 404);
    let events = format!(
        "SELECT count(*) FROM audit_events WHERE patient_id = '{}' AND purpose = 'chart.problems' AND action = 'create'",
        patient.as_uuid()
    );
    assert_eq!(count(&app, &events).await, 2);
}
