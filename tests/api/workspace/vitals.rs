//! Vital signs: units converted and kept, slips refused next to their field, adult ranges
//! marked, trends drawn on the server, corrections kept.

use super::{count, get, post, setup, ulid};

#[tokio::test]
async fn vitals_are_kept_in_one_unit_marked_against_adult_ranges_and_drawn_as_trends() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    // The fixture patients are adults.
    let section = format!("/patients/{patient}/vitals");
    app.act_as(Some(a.provider_context()));
    let (status, body) = get(&app, &section).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No vitals are recorded yet"), "{body}");

    // Slips: the pressures swapped, a temperature typed without its point. Nothing is
    // written, every typed value stays, each message sits by its field.
    let slip = [
        ("systolic", "80"),
        ("diastolic", "128"),
        ("temperature", "986"),
        ("temperature_unit", "F"),
        ("weight", "154"),
        ("weight_unit", "lb"),
    ];
    let (status, body) = post(&app, &section, &slip).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("check the order") && body.contains("between 86 and 113"), "{body}");
    assert!(body.contains(r#"value="986""#) && body.contains(r#"value="154""#), "kept: {body}");
    let rows = format!("SELECT count(*) FROM vitals WHERE patient_id = '{}'", patient.as_uuid());
    assert_eq!(count(&app, &rows).await, 0);
    assert_eq!(post(&app, &section, &[("measured_at", "")]).await.0, 422, "nothing measured");
    assert_eq!(post(&app, &section, &[("measured_at", "2999-01-01T10:00"), ("pulse", "70")]).await.0, 422);

    let first = [
        ("measured_at", "2026-11-02T09:30"),
        ("systolic", "128"),
        ("diastolic", "82"),
        ("pulse", "72"),
        ("temperature", "98.6"),
        ("temperature_unit", "F"),
        ("weight", "154"),
        ("weight_unit", "lb"),
        ("height", "70"),
        ("height_unit", "in"),
        ("spo2", "98"),
    ];
    let (status, body) = post(&app, &section, &first).await;
    assert_eq!(status, 200, "{body}");
    let second =
        [("systolic", "152"), ("diastolic", "94"), ("weight", "70"), ("weight_unit", "kg"), ("spo2", "91")];
    let (status, body) = post(&app, &section, &second).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("128/82") && body.contains("152/94"), "{body}");
    assert!(body.contains("98.6 °F (37.0 °C)") && body.contains("69.9 kg (154 lb)"), "{body}");
    assert!(body.contains("vital--high") && body.contains("vital--low"), "152/94 and 91% are marked: {body}");
    assert!(body.contains("22.1"), "BMI from the last height on record: {body}");
    assert!(
        body.contains("<polyline class=\"trend__line trend__line--systolic\""),
        "the trend is drawn: {body}"
    );
    assert!(!body.contains(" style="), "no inline style (the CSP allows none)");
    let stored = format!(
        "SELECT count(*) FROM vitals WHERE patient_id = '{}' AND temperature_dc = 370 AND weight_g = 69853 AND height_mm = 1778",
        patient.as_uuid()
    );
    assert_eq!(count(&app, &stored).await, 1, "stored in one unit each");

    let id: uuid::Uuid = {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT id FROM vitals WHERE patient_id = $1 AND systolic = 152")
            .bind(patient)
            .fetch_one(&mut su)
            .await
            .expect("vitals")
    };
    let error = format!("{section}/{}/error", ulid(id));
    let (status, body) = post(&app, &error, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("152/94"), "{body}");
    assert_eq!(post(&app, &error, &[]).await.0, 404, "once");
    assert_eq!(count(&app, &rows).await, 2, "kept, marked");

    app.act_as(Some(a.desk_context()));
    assert_eq!(get(&app, &section).await.0, 403);
    app.act_as(Some(tenants.b.provider_context()));
    assert_eq!(post(&app, &section, &second).await.0, 404);
}
