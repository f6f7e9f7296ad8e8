//! Scheduling: working hours, the exclusion constraint, DST, status changes, failure atomicity.

use chrono::{Duration, TimeZone as _, Utc};
use lockdev::db::ids::PatientId;
use lockdev::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};
use reqwest::StatusCode;
use sqlx::Row;
use uuid::Uuid;

use lockdev::auth::policy::StaffRole;

use super::{count, get, in_clinic, member, next_monday, post, setup};
use crate::fixtures::{CANARY_A, CANARY_B};
use crate::helpers::TestApp;

// ---- scheduling ---------------------------------------------------------------------------

async fn book(
    app: &TestApp,
    patient: PatientId,
    provider: &str,
    kind: Uuid,
    date: &str,
    time: &str,
) -> (StatusCode, String) {
    post(
        app,
        &format!("/patients/{patient}/appointments"),
        &[
            ("provider_id", provider),
            ("type_id", &ulid::Ulid::from(kind).to_string()),
            ("date", date),
            ("time", time),
            ("reason", "Checkup"),
        ],
    )
    .await
}

#[tokio::test]
async fn booking_respects_working_hours_and_the_database_refuses_double_booking() {
    let (app, tenants, kind) = setup(2).await;
    let (p1, p2) = (tenants.a.patients[0], tenants.a.patients[1]);
    let provider = tenants.a.provider.to_string();
    app.act_as(Some(tenants.a.desk_context()));
    let monday = next_monday().to_string();
    let (status, body) = book(&app, p1, &provider, kind, &monday, "09:00").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Booked for"), "{body}");
    // Overlapping (09:15-09:45 against 09:00-09:30) for another patient: refused.
    let (status, body) = book(&app, p2, &provider, kind, &monday, "09:15").await;
    assert_eq!(status, 409);
    assert!(body.contains("already has an appointment"), "{body}");
    assert!(body.contains("value=\"09:15\""), "the form keeps the input");
    // Back to back is fine.
    assert_eq!(book(&app, p2, &provider, kind, &monday, "09:30").await.0, 200);
    // Outside hours: refused unless overridden.
    let (status, body) = book(&app, p2, &provider, kind, &monday, "16:45").await;
    assert_eq!(status, 422);
    assert!(body.contains("outside the provider"), "{body}");
    let (status, _) = post(
        &app,
        &format!("/patients/{p2}/appointments"),
        &[
            ("provider_id", &provider),
            ("type_id", &ulid::Ulid::from(kind).to_string()),
            ("date", &monday),
            ("time", "18:00"),
            ("outside_hours", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    // The past, and unreadable times.
    assert_eq!(book(&app, p2, &provider, kind, "2020-01-06", "10:00").await.0, 422);
    let (status, body) = book(&app, p2, &provider, kind, &monday, "25:99").await;
    assert_eq!(status, 422);
    assert!(body.contains("HH:MM"));
    assert_eq!(count(&app, "SELECT count(*) FROM appointments").await, 3);

    // The constraint holds for any writer, not only the form.
    let runtime = app.database().runtime_pool().await;
    let mut tx = begin_tenant(&runtime, &TenantContext::system(tenants.a.org)).await.expect("tx");
    let error = sqlx::query(
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
         SELECT organization_id, $1, provider_id, appointment_type_id, starts_at + interval '10 minutes', ends_at
           FROM appointments ORDER BY starts_at LIMIT 1",
    )
    .bind(p2)
    .execute(&mut *tx)
    .await
    .expect_err("overlap");
    assert_eq!(error.as_database_error().and_then(|e| e.code()).as_deref(), Some("23P01"));
}

#[tokio::test]
async fn nine_oclock_is_nine_oclock_on_both_sides_of_a_dst_change() {
    let (app, tenants, kind) = setup(2).await;
    let provider = tenants.a.provider.to_string();
    app.act_as(Some(tenants.a.desk_context()));
    // US clocks spring forward on 2027-03-14: Friday the 12th is EST, Monday the 15th EDT.
    assert_eq!(book(&app, tenants.a.patients[0], &provider, kind, "2027-03-12", "09:00").await.0, 200);
    assert_eq!(book(&app, tenants.a.patients[1], &provider, kind, "2027-03-15", "09:00").await.0, 200);
    let mut su = app.database().superuser().await;
    let starts: Vec<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT starts_at FROM appointments ORDER BY starts_at")
            .fetch_all(&mut su)
            .await
            .expect("starts");
    assert_eq!(starts[0], Utc.with_ymd_and_hms(2027, 3, 12, 14, 0, 0).unwrap());
    assert_eq!(starts[1], Utc.with_ymd_and_hms(2027, 3, 15, 13, 0, 0).unwrap());
    // Both show as 09:00 on the clinic's clock, with the zone that applied.
    let (_, body) = get(&app, "/schedule?date=2027-03-12").await;
    assert!(body.contains("09:00\u{2013}09:30 EST"), "{body}");
    let (_, body) = get(&app, "/schedule?date=2027-03-15").await;
    assert!(body.contains("09:00\u{2013}09:30 EDT"));
    // A time the clocks skip cannot be booked (with override, so hours do not decide).
    let (status, body) = post(
        &app,
        &format!("/patients/{}/appointments", tenants.a.patients[0]),
        &[
            ("provider_id", &provider),
            ("type_id", &ulid::Ulid::from(kind).to_string()),
            ("date", "2027-03-14"),
            ("time", "02:30"),
            ("outside_hours", "1"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("does not exist on that day"));
    // A viewer in another timezone sees the same instant on their own clock.
    let owner = app.database().owner_pool().await;
    let mut tx = begin_system(&owner, &SystemContext::default()).await.expect("tx");
    sqlx::query("UPDATE users SET timezone = 'America/Los_Angeles' WHERE id = $1")
        .bind(tenants.a.desk_user)
        .execute(&mut *tx)
        .await
        .expect("timezone");
    tx.commit().await.expect("commit");
    let (_, body) = get(&app, "/schedule?date=2027-03-12").await;
    assert!(body.contains("06:00\u{2013}06:30 PST"), "{body}");
}

#[tokio::test]
async fn appointments_are_rescheduled_cancelled_checked_in_and_marked_no_show() {
    let (app, tenants, kind) = setup(2).await;
    let provider = tenants.a.provider.to_string();
    app.act_as(Some(tenants.a.desk_context()));
    let monday = next_monday().to_string();
    book(&app, tenants.a.patients[0], &provider, kind, &monday, "10:00").await;
    book(&app, tenants.a.patients[1], &provider, kind, &monday, "11:00").await;
    let mut su = app.database().superuser().await;
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM appointments ORDER BY starts_at")
        .fetch_all(&mut su)
        .await
        .expect("ids");
    let (first, second) = (
        lockdev::db::ids::AppointmentId::from_uuid(ids[0]),
        lockdev::db::ids::AppointmentId::from_uuid(ids[1]),
    );
    // Moving onto the other appointment is refused; to a free time it moves.
    let (status, body) = post(
        &app,
        &format!("/appointments/{first}/reschedule"),
        &[("provider_id", &provider), ("date", &monday), ("time", "11:15")],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let res = app
        .post_form(
            &format!("/appointments/{first}/reschedule"),
            &[("provider_id", &provider), ("date", &monday), ("time", "13:00"), ("return_to", "/schedule")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/schedule");
    // Cancelling asks for the tick: without it nothing changes and the reason typed
    // comes back with the message next to the box.
    let (status, body) =
        post(&app, &format!("/appointments/{second}/cancel"), &[("reason", "Feeling better")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("value=\"Feeling better\"") && body.contains("Yes, cancel this appointment"),
        "{body}"
    );
    assert!(body.contains("to cancel it."), "{body}");
    let still: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1")
        .bind(second)
        .fetch_one(&mut su)
        .await
        .expect("status");
    assert_eq!(still, "booked");
    // An open redirect is not possible through return_to.
    let res = app
        .post_form(
            &format!("/appointments/{second}/cancel"),
            &[("reason", "Feeling better"), ("confirm", "1"), ("return_to", "https://evil.example/")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/appointments/{second}").as_str());
    let row = sqlx::query("SELECT status, cancel_reason, cancelled_by FROM appointments WHERE id = $1")
        .bind(second)
        .fetch_one(&mut su)
        .await
        .expect("row");
    assert_eq!(row.get::<String, _>("status"), "cancelled");
    assert_eq!(row.get::<Option<String>, _>("cancel_reason").as_deref(), Some("Feeling better"));
    // The cancelled slot is free again.
    assert_eq!(book(&app, tenants.a.patients[1], &provider, kind, &monday, "11:00").await.0, 200);
    // A no-show before the start is refused; check-in works from booked only.
    assert_eq!(post(&app, &format!("/appointments/{first}/no-show"), &[]).await.0, 400);
    assert_eq!(post(&app, &format!("/appointments/{second}/check-in"), &[]).await.0, 400, "cancelled");
    // The clock moves to the appointment's day and past its start.
    let start: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM appointments WHERE id = $1")
        .bind(first)
        .fetch_one(&mut su)
        .await
        .expect("start");
    app.clock.set(start + Duration::minutes(5));
    assert_eq!(post(&app, &format!("/appointments/{first}/check-in"), &[]).await.0, 303);
    // A check-in made by mistake is taken back the same day: booked again, no check-in time.
    let (_, page) = get(&app, &format!("/appointments/{first}")).await;
    assert!(page.contains("Undo check-in"), "{page}");
    assert_eq!(post(&app, &format!("/appointments/{first}/undo-check-in"), &[]).await.0, 303);
    let row = sqlx::query("SELECT status, checked_in_at FROM appointments WHERE id = $1")
        .bind(first)
        .fetch_one(&mut su)
        .await
        .expect("row");
    assert_eq!(row.get::<String, _>("status"), "booked");
    assert!(row.get::<Option<chrono::DateTime<Utc>>, _>("checked_in_at").is_none());
    assert_eq!(
        post(&app, &format!("/appointments/{first}/undo-check-in"), &[]).await.0,
        400,
        "not checked in"
    );
    assert_eq!(post(&app, &format!("/appointments/{first}/check-in"), &[]).await.0, 303);
    assert_eq!(post(&app, &format!("/appointments/{first}/complete"), &[]).await.0, 303);
    let status: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1")
        .bind(first)
        .fetch_one(&mut su)
        .await
        .expect("status");
    assert_eq!(status, "completed");
    // Week and day views list them.
    let (status, body) = get(&app, &format!("/schedule/providers/{provider}?week={monday}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Completed"));
}

#[tokio::test]
async fn a_failure_after_the_first_write_leaves_nothing_behind() {
    // FLT-05: the appointment is inserted, then its audit event cannot be; the request
    // fails and the appointment is gone with it.
    let (app, tenants, kind) = setup(1).await;
    app.act_as(Some(tenants.a.desk_context()));
    let mut su = app.database().superuser().await;
    sqlx::query(
        "CREATE FUNCTION fail_appointment_audit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.resource_type = 'appointment' THEN RAISE EXCEPTION 'injected failure'; END IF;
           RETURN NEW;
         END $$",
    )
    .execute(&mut su)
    .await
    .expect("function");
    sqlx::query("CREATE TRIGGER fail_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION fail_appointment_audit()")
        .execute(&mut su)
        .await
        .expect("trigger");
    let monday = next_monday().to_string();
    let (status, body) =
        book(&app, tenants.a.patients[0], &tenants.a.provider.to_string(), kind, &monday, "10:00").await;
    assert_eq!(status, 500);
    assert!(!body.contains("injected failure"), "no SQL detail in the page");
    assert_eq!(count(&app, "SELECT count(*) FROM appointments").await, 0, "nothing committed");
}

/// A sensitive visit's reason (and that it is one) is for the patient's care-team
/// providers: a provider who may not read the patient's sensitive notes cannot read
/// "Methadone intake" off the schedule either, and the front desk, nurses and the call
/// center see a plain "Visit". A clinic that keeps charts to the care team keeps routine
/// reasons there too.
#[tokio::test]
async fn a_sensitive_visits_reason_shows_only_to_the_patients_care_team_providers() {
    let (app, tenants, kind) = setup(2).await;
    let (on_team, other) = (tenants.a.patients[0], tenants.a.patients[1]);
    let provider = tenants.a.provider.to_string();
    let monday = next_monday().to_string();
    app.act_as(Some(tenants.a.desk_context()));
    let visit = |patient: PatientId, time: &'static str, reason: &'static str, sensitive: bool| {
        let app = &app;
        let provider = provider.clone();
        let monday = monday.clone();
        async move {
            let mut fields = vec![
                ("provider_id", provider.as_str()),
                ("type_id", ""),
                ("date", monday.as_str()),
                ("time", time),
                ("reason", reason),
            ];
            let kind = ulid::Ulid::from(kind).to_string();
            fields[1].1 = &kind;
            if sensitive {
                fields.push(("sensitive", "1"));
            }
            let (status, body) = post(app, &format!("/patients/{patient}/appointments"), &fields).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    visit(on_team, "09:00", "Methadone intake", true).await;
    visit(other, "10:00", "Suboxone review", true).await;
    visit(other, "11:00", "Sprained ankle", false).await;
    let day = format!("/schedule?date={monday}");
    let week = format!("/schedule/providers/{provider}?week={monday}");

    // The provider on the first patient's care team (not the second's).
    app.act_as(Some(tenants.a.provider_context()));
    for page in [&day, &week] {
        let (status, body) = get(&app, page).await;
        assert_eq!(status, 200);
        assert!(body.contains("Methadone intake"), "the care team reads it: {body}");
        assert!(!body.contains("Suboxone review"), "not on that patient's team: {body}");
        assert!(body.contains("Sprained ankle"));
    }
    // The visit page says no more than the schedule.
    let hidden: Uuid =
        in_clinic(&app, tenants.a.org, "SELECT id FROM appointments WHERE reason = 'Suboxone review'", &[])
            .await
            .expect("visit");
    let (status, body) = get(&app, &format!("/appointments/{}", ulid::Ulid::from(hidden))).await;
    assert_eq!(status, 200);
    assert!(!body.contains("Suboxone") && !body.contains(">sensitive<"), "{body}");

    // Everyone else who sees the schedule: a plain visit, no reason, no badge.
    let (nurse, _) = member(&app, tenants.a.org, StaffRole::ClinicalStaff).await;
    let (agent, _) = member(&app, tenants.a.org, StaffRole::CallCenterAgent).await;
    for who in [tenants.a.desk_context(), nurse.clone(), agent] {
        app.act_as(Some(who));
        let (status, body) = get(&app, &day).await;
        assert_eq!(status, 200);
        assert!(!body.contains("Methadone") && !body.contains("Suboxone"), "{body}");
        assert!(!body.contains(">sensitive<"), "no badge marks it out: {body}");
    }

    // A clinic that keeps charts to the care team: routine reasons too, for clinicians.
    in_clinic(
        &app,
        tenants.a.org,
        "UPDATE organizations SET settings = settings || '{\"chart_access\": \"care_team_only\"}' WHERE id = $1",
        &[&tenants.a.org.as_uuid()],
    )
    .await;
    app.act_as(Some(nurse));
    let (_, body) = get(&app, &day).await;
    assert!(!body.contains("Sprained ankle"), "{body}");
    app.act_as(Some(tenants.a.provider_context()));
    let (_, body) = get(&app, &day).await;
    assert!(!body.contains("Sprained ankle") && body.contains("Methadone intake"), "{body}");
    app.act_as(Some(tenants.a.desk_context()));
    let (_, body) = get(&app, &day).await;
    assert!(body.contains("Sprained ankle"), "the front desk books by the reason: {body}");
}

/// Lists say whose data they showed: the day and week views, a registry search and the
/// task list record the ids of the patients on them in their one read event.
#[tokio::test]
async fn list_pages_record_the_patients_they_showed() {
    let (app, tenants, kind) = setup(3).await;
    let provider = tenants.a.provider.to_string();
    let monday = next_monday().to_string();
    app.act_as(Some(tenants.a.desk_context()));
    for (patient, time) in [(tenants.a.patients[0], "09:00"), (tenants.a.patients[1], "10:00")] {
        assert_eq!(book(&app, patient, &provider, kind, &monday, time).await.0, 200);
    }
    let shown = |purpose: &'static str| {
        let app = &app;
        async move {
            let mut su = app.database().superuser().await;
            let ids: serde_json::Value = sqlx::query_scalar(
                "SELECT details->'patient_ids' FROM audit_events WHERE purpose = $1 ORDER BY occurred_at DESC, id DESC LIMIT 1",
            )
            .bind(purpose)
            .fetch_one(&mut su)
            .await
            .expect(purpose);
            let mut ids: Vec<String> =
                ids.as_array().expect("a list").iter().map(|v| v.as_str().expect("id").to_owned()).collect();
            ids.sort();
            ids
        }
    };
    let mut booked = vec![tenants.a.patients[0].to_string(), tenants.a.patients[1].to_string()];
    booked.sort();
    assert_eq!(get(&app, &format!("/schedule?date={monday}")).await.0, 200);
    assert_eq!(shown("schedule.day").await, booked);
    assert_eq!(get(&app, &format!("/schedule/providers/{provider}?week={monday}")).await.0, 200);
    assert_eq!(shown("schedule.week").await, booked);
    let (status, _) = post(&app, "/patients/search", &[("q", "ALPHA-CANARY")]).await;
    assert_eq!(status, 200);
    assert_eq!(shown("registry.search").await.len(), 3, "every patient the results named");
    assert_eq!(get(&app, "/tasks").await.0, 200);
    assert!(shown("tasks").await.is_empty());
}

/// A visit type can say as much as a reason ("Methadone clinic"): the chart's summary shows
/// a sensitive visit's type only to the patient's care-team providers, like the schedule.
#[tokio::test]
async fn a_sensitive_visit_type_is_named_on_the_chart_only_to_the_care_team() {
    let (app, tenants, _) = setup(2).await;
    let (on_team, other) = (tenants.a.patients[0], tenants.a.patients[1]);
    let kind = in_clinic(
        &app,
        tenants.a.org,
        "INSERT INTO appointment_types (organization_id, name, duration_minutes, sensitive)
         VALUES ($1, 'Methadone clinic', 30, true) RETURNING id",
        &[&tenants.a.org.as_uuid()],
    )
    .await
    .expect("kind");
    let provider = tenants.a.provider.to_string();
    let monday = next_monday().to_string();
    app.act_as(Some(tenants.a.desk_context()));
    assert_eq!(book(&app, on_team, &provider, kind, &monday, "09:00").await.0, 200);
    assert_eq!(book(&app, other, &provider, kind, &monday, "10:00").await.0, 200);
    app.clock.set(Utc::now());

    app.act_as(Some(tenants.a.provider_context()));
    let (_, mine) = get(&app, &format!("/patients/{on_team}")).await;
    assert!(mine.contains("Methadone clinic"), "the care team sees it: {mine}");
    let (status, theirs) = get(&app, &format!("/patients/{other}")).await;
    assert_eq!(status, 200);
    assert!(!theirs.contains("Methadone"), "not on that patient's team: {theirs}");
    app.act_as(Some(tenants.a.desk_context()));
    let (_, desk) = get(&app, &format!("/patients/{on_team}")).await;
    assert!(!desk.contains("Methadone") && desk.contains("Visit with"), "{desk}");
}

#[tokio::test]
async fn a_check_in_is_taken_back_only_on_the_day_of_the_visit() {
    let (app, tenants, kind) = setup(1).await;
    let provider = tenants.a.provider.to_string();
    app.act_as(Some(tenants.a.desk_context()));
    let monday = next_monday().to_string();
    assert_eq!(book(&app, tenants.a.patients[0], &provider, kind, &monday, "10:00").await.0, 200);
    let mut su = app.database().superuser().await;
    let (id, start): (Uuid, chrono::DateTime<Utc>) =
        sqlx::query_as("SELECT id, starts_at FROM appointments").fetch_one(&mut su).await.expect("visit");
    let visit = lockdev::db::ids::AppointmentId::from_uuid(id);
    app.clock.set(start + Duration::minutes(5));
    assert_eq!(post(&app, &format!("/appointments/{visit}/check-in"), &[]).await.0, 303);
    // The next day the check-in stands: it is the record of a visit that happened.
    app.clock.set(start + Duration::days(1));
    let (_, page) = get(&app, &format!("/appointments/{visit}")).await;
    assert!(!page.contains("Undo check-in"), "{page}");
    let (status, body) = post(&app, &format!("/appointments/{visit}/undo-check-in"), &[]).await;
    assert_eq!(status, 400, "{body}");
    let now: String =
        sqlx::query_scalar("SELECT status FROM appointments").fetch_one(&mut su).await.expect("status");
    assert_eq!(now, "checked_in");
}

/// The slot finder offers the next free slots inside working hours for a kind of visit,
/// with one provider or any, each booked with one click; a booked slot is no longer
/// offered. (Working hours: Monday to Friday 09:00-17:00 New York; visits of 30 minutes.)
#[tokio::test]
async fn the_slot_finder_offers_free_slots_that_book_in_one_click() {
    let (app, tenants, kind) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let kind = super::ulid(kind);
    let finder = format!("/patients/{patient}/appointments/free-slots");
    app.act_as(Some(a.desk_context()));
    let (status, body) = get(&app, &finder).await;
    assert_eq!(status, 200);
    assert!(body.contains("Choose the kind of visit."), "{body}");

    let offered = |body: &str| -> Vec<(String, String)> {
        let dates: Vec<String> = body
            .match_indices(r#"name="date" value=""#)
            .map(|(i, m)| body[i + m.len()..i + m.len() + 10].to_owned())
            .collect();
        let times: Vec<String> = body
            .match_indices(r#"name="time" value=""#)
            .map(|(i, m)| body[i + m.len()..i + m.len() + 5].to_owned())
            .collect();
        dates.into_iter().zip(times).collect()
    };
    let (status, body) = get(&app, &format!("{finder}?type_id={kind}&provider_id=")).await;
    assert_eq!(status, 200, "{body}");
    let slots = offered(&body);
    assert_eq!(slots.len(), 10, "ten slots: {body}");
    for (date, time) in &slots {
        let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
        assert!(day.format("%u").to_string().parse::<u32>().expect("weekday") <= 5, "a weekday: {date}");
        assert!(("09:00".."16:31").contains(&time.as_str()), "inside the hours, room for 30 minutes: {time}");
        assert!(
            time.ends_with(":00") || time.ends_with(":15") || time.ends_with(":30") || time.ends_with(":45")
        );
    }
    let (date, time) = slots[0].clone();
    let (status, body) = post(
        &app,
        &format!("/patients/{patient}/appointments"),
        &[("provider_id", &a.provider.to_string()), ("type_id", &kind), ("date", &date), ("time", &time)],
    )
    .await;
    assert!(status.is_success() || status.is_redirection(), "booked: {status} {body}");
    let (_, body) = get(&app, &format!("{finder}?type_id={kind}&provider_id={}", a.provider)).await;
    let again = offered(&body);
    assert!(!again.contains(&(date.clone(), time.clone())), "a booked slot is not offered again");

    // Another clinic's chart is not found; a kind that does not exist finds nothing.
    let (_, body) = get(&app, &format!("{finder}?type_id={}", super::ulid(Uuid::new_v4()))).await;
    assert!(body.contains("No free slot"), "{body}");
    app.act_as(Some(tenants.b.desk_context()));
    assert_eq!(get(&app, &format!("{finder}?type_id={kind}")).await.0, 404);
}

// ---- the time grid ----------------------------------------------------------------------

/// The registry's next step an empty slot links to, as it appears in the page.
fn slot_link(provider: &str, date: &str, time: &str) -> String {
    format!(
        "/patients?then=/patients/%7Bpatient_id%7D/appointments%3Fprovider_id%3D{provider}%26date%3D{date}%26time%3D{}",
        time.replace(':', "%3A")
    )
}

#[tokio::test]
async fn the_day_grid_sizes_visits_by_duration_shades_closed_hours_and_books_from_an_empty_slot() {
    let (app, tenants, kind) = setup(2).await;
    let a = &tenants.a;
    let (p1, p2) = (a.patients[0], a.patients[1]);
    let provider = a.provider.to_string();
    let monday = next_monday().to_string();
    app.act_as(Some(a.desk_context()));
    assert_eq!(book(&app, p1, &provider, kind, &monday, "09:00").await.0, 200);

    let (status, day) = get(&app, &format!("/schedule?date={monday}")).await;
    assert_eq!(status, 200);
    // Rows from 08:00 (line 1): the 30-minute visit at 09:00 starts on line 5 and spans two.
    assert!(day.contains(r#"<li class="block r5 s2">"#), "{day}");
    // 08:00 is outside the hours (shaded, nothing to book); 09:30 is open and bookable.
    assert!(day.contains(r#"<li class="slot r1" aria-hidden="true"></li>"#), "{day}");
    assert!(day.contains(r#"<li class="slot slot--open r7"><a href=""#), "{day}");
    let link = slot_link(&provider, &monday, "09:30");
    assert!(day.contains(&link), "{day}");
    // The visit's own quarter hours are not offered; nor is 17:00.
    assert!(!day.contains(&slot_link(&provider, &monday, "09:15")));
    assert!(!day.contains(&slot_link(&provider, &monday, "17:00")));
    // The week shows the same block on Monday's column.
    let (status, week) = get(&app, &format!("/schedule/providers/{provider}?week={monday}")).await;
    assert_eq!(status, 200);
    assert!(week.contains(r#"<li class="block r5 s2">"#), "{week}");
    assert!(week.contains(&link), "{week}");

    // The empty slot opens the registry to choose the patient; their appointments come
    // next with the slot filled in.
    let (status, registry) = get(&app, &link).await;
    assert_eq!(status, 200);
    assert!(registry.contains("their Appointments opens next"), "{registry}");
    let chosen =
        format!("/patients/{p2}/appointments?provider_id={provider}&#38;date={monday}&#38;time=09:30");
    assert!(registry.contains(&format!(r#"href="{chosen}""#)), "{registry}");
    let (status, section) = get(&app, &chosen.replace("&#38;", "&")).await;
    assert_eq!(status, 200);
    assert!(section.contains("The slot you chose on the schedule is filled in"), "{section}");
    assert!(section.contains(r#"name="time" type="time" required step="300" value="09:30""#), "{section}");
    assert!(section.contains(&format!(r#"value="{monday}""#)));
    assert_eq!(book(&app, p2, &provider, kind, &monday, "09:30").await.0, 200);
    let (_, day) = get(&app, &format!("/schedule?date={monday}")).await;
    assert!(day.contains(r#"<li class="block r7 s2">"#), "the second visit is a block of its own: {day}");
    assert!(!day.contains(&link), "and 09:30 is no longer offered");

    // Only a chart section may come next, with a plain query: anything else opens charts.
    for then in ["/admin", "/patients/{patient_id}/appointments?x=%3Cscript%3E", "https://elsewhere.example/"]
    {
        let (status, page) = get(&app, &format!("/patients?then={}", then.replace('/', "%2F"))).await;
        assert_eq!(status, 200);
        assert!(!page.contains("opens next"), "{then}");
        assert!(page.contains(&format!(r#"href="/patients/{p2}""#)), "{then}");
    }
    // Who may not book sees the grid without booking links.
    let (agent, _) = member(&app, a.org, StaffRole::CallCenterAgent).await;
    app.act_as(Some(agent));
    let (status, day) = get(&app, &format!("/schedule?date={monday}")).await;
    assert_eq!(status, 200);
    assert!(day.contains(r#"<li class="block r5 s2">"#) && day.contains(r#"<li class="block r7 s2">"#));
    assert!(!day.contains("/patients?then="), "{day}");
}

#[tokio::test]
async fn a_providers_visits_at_another_clinic_show_as_busy_and_as_a_conflict_and_are_not_offered() {
    let (app, tenants, kind) = setup(1).await;
    let (a, b) = (&tenants.a, &tenants.b);
    let provider = a.provider.to_string();
    // Clinic A's provider also sees patients at clinic B.
    in_clinic(
        &app,
        b.org,
        "INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'provider')",
        &[&b.org.as_uuid(), &a.provider_user.as_uuid()],
    )
    .await;
    let elsewhere = in_clinic(
        &app,
        b.org,
        "INSERT INTO providers (organization_id, user_id, npi, credentials) VALUES ($1, $2, '1003000126', 'NP') RETURNING id",
        &[&b.org.as_uuid(), &a.provider_user.as_uuid()],
    )
    .await
    .expect("provider at B");
    let b_kind = in_clinic(
        &app,
        b.org,
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Consult', 45) RETURNING id",
        &[&b.org.as_uuid()],
    )
    .await
    .expect("kind at B");

    // The first slot clinic A's finder offers …
    app.act_as(Some(a.desk_context()));
    let finder = format!(
        "/patients/{}/appointments/free-slots?type_id={}&provider_id={provider}",
        a.patients[0],
        super::ulid(kind)
    );
    let (_, body) = get(&app, &finder).await;
    let value_after = |body: &str, marker: &str, len: usize| -> String {
        let at = body.find(marker).expect(marker) + marker.len();
        body[at..at + len].to_owned()
    };
    let (date, time) =
        (value_after(&body, r#"name="date" value=""#, 10), value_after(&body, r#"name="time" value=""#, 5));
    let day = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").expect("date");
    let at = chrono_tz::America::New_York
        .from_local_datetime(&day.and_time(chrono::NaiveTime::parse_from_str(&time, "%H:%M").expect("time")))
        .single()
        .expect("instant");
    // … is then taken at clinic B (45 minutes).
    in_clinic(
        &app,
        b.org,
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
         VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + interval '45 minutes') RETURNING id",
        &[&b.org.as_uuid(), &b.patients[0].as_uuid(), &elsewhere, &b_kind, &at.to_rfc3339().as_str()],
    )
    .await
    .expect("visit at B");
    let (_, body) = get(&app, &finder).await;
    let first =
        (value_after(&body, r#"name="date" value=""#, 10), value_after(&body, r#"name="time" value=""#, 5));
    assert_ne!(first, (date.clone(), time.clone()), "the slot is no longer offered: {body}");

    // Clinic A's grid shows the time as busy elsewhere (no patient, no booking link) …
    let (_, grid) = get(&app, &format!("/schedule?date={date}")).await;
    assert!(grid.contains("Busy at another clinic"), "{grid}");
    assert!(!grid.contains(&slot_link(&provider, &date, &time)), "{grid}");
    assert!(!grid.contains(&format!("{CANARY_B}-0")), "nothing of clinic B's patient");
    // … and a visit booked over it anyway (typed in the form) is marked as a conflict.
    assert_eq!(book(&app, a.patients[0], &provider, kind, &date, &time).await.0, 200);
    let (_, grid) = get(&app, &format!("/schedule?date={date}")).await;
    assert!(grid.contains("block__visit--conflict"), "{grid}");
    assert!(grid.contains("booked at another clinic at this time"), "{grid}");

    // Clinic A reads B's hold on the shared provider's time (and nothing of B's other
    // providers), and can neither change nor delete it.
    let runtime = app.database().runtime_pool().await;
    let mut tx = begin_tenant(&runtime, &TenantContext::system(a.org)).await.expect("tx");
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_busy_times WHERE organization_id = $1")
        .bind(b.org)
        .fetch_one(&mut *tx)
        .await
        .expect("read");
    assert_eq!(seen, 1);
    let deleted = sqlx::query("DELETE FROM provider_busy_times WHERE organization_id = $1")
        .bind(b.org)
        .execute(&mut *tx)
        .await
        .expect("delete")
        .rows_affected();
    let updated = sqlx::query(
        "UPDATE provider_busy_times SET starts_at = starts_at - interval '1 hour' WHERE organization_id = $1",
    )
    .bind(b.org)
    .execute(&mut *tx)
    .await
    .expect("update")
    .rows_affected();
    assert_eq!((deleted, updated), (0, 0), "another clinic's rows are read-only here");
    tx.rollback().await.expect("rollback");

    // Cancelled at B: the time is free again, and no longer a conflict.
    in_clinic(
        &app,
        b.org,
        "UPDATE appointments SET status = 'cancelled', cancelled_at = now() RETURNING id",
        &[],
    )
    .await;
    let (_, grid) = get(&app, &format!("/schedule?date={date}")).await;
    assert!(!grid.contains("block__visit--conflict") && !grid.contains("Busy at another clinic"), "{grid}");
    // Clinic B sees the visit at A as the same person's busy time, and nothing of it but the time.
    app.act_as(Some(b.desk_context()));
    let (_, grid) = get(&app, &format!("/schedule?date={date}")).await;
    assert!(grid.contains("Busy at another clinic"), "{grid}");
    assert!(!grid.contains(&format!("{CANARY_A}-0")), "nothing of clinic A's patient: {grid}");
}
