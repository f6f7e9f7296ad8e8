//! The medication list: recorded, not prescribed; stopped with a date and a reason.

use super::{count, get, post, setup, ulid};

#[tokio::test]
async fn medications_are_recorded_and_stopped_with_a_reason() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let section = format!("/patients/{patient}/medications");
    app.act_as(Some(a.provider_context()));

    let (status, body) =
        post(&app, &section, &[("name", " "), ("dose", "500 mg"), ("frequency", "twice daily")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Name the medication") && body.contains(r#"value="500 mg""#), "{body}");

    let fields = [
        ("name", "Metformin"),
        ("dose", "500 mg"),
        ("frequency", "twice daily"),
        ("started_on", "2024-02-01"),
        ("prescriber", "Dr. Outside"),
    ];
    let (status, body) = post(&app, &section, &fields).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("500 mg, twice daily") && body.contains("prescribed by Dr. Outside"), "{body}");
    let (status, body) = post(&app, &section, &[("name", "metformin"), ("dose", "1000 mg")]).await;
    assert_eq!(status, 422, "a second current entry of one medication: {body}");

    let id: uuid::Uuid = {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT id FROM medications WHERE patient_id = $1")
            .bind(patient)
            .fetch_one(&mut su)
            .await
            .expect("medication")
    };
    let stop = format!("{section}/{}/stop", ulid(id));
    let (status, body) = post(&app, &stop, &[("reason", "other"), ("detail", "")]).await;
    assert_eq!(status, 422, "\"Other\" needs words: {body}");
    let (status, _) = post(&app, &stop, &[("reason", "completed"), ("stopped_on", "2020-01-01")]).await;
    assert_eq!(status, 404, "not stopped before it started");
    let (status, body) = post(&app, &stop, &[("reason", "side_effects"), ("detail", "nausea")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No current medication") && body.contains("Side effects: nausea"), "{body}");
    let (status, _) = post(&app, &stop, &[("reason", "completed")]).await;
    assert_eq!(status, 404, "stops once");

    app.act_as(Some(a.desk_context()));
    assert_eq!(get(&app, &section).await.0, 403);
    assert_eq!(post(&app, &section, &fields).await.0, 403);
    app.act_as(Some(tenants.b.provider_context()));
    assert_eq!(post(&app, &section, &fields).await.0, 404);
    let rows = format!("SELECT count(*) FROM medications WHERE patient_id = '{}'", patient.as_uuid());
    assert_eq!(count(&app, &rows).await, 1, "nothing written by those refused");
}
