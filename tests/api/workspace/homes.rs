//! Homes per role: each says what to do today, lists only what the role sees, and is on
//! record with the patients it showed.

use lockdev::auth::policy::StaffRole;

use super::{count, get, in_clinic, member, post, setup};

#[tokio::test]
async fn each_role_lands_on_a_home_that_says_what_to_do_today() {
    let (app, tenants, kind) = setup(3).await;
    let a = &tenants.a;
    let org = a.org.as_uuid();
    // Today: one to arrive, one checked in twenty minutes ago, one no-show.
    let book = async |patient: lockdev::db::ids::PatientId, minutes: i32, status: &str| {
        in_clinic(
            &app,
            a.org,
            "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at, status, checked_in_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(mins => $5), now() + make_interval(mins => $5 + 20), $6,
                     CASE WHEN $6 = 'checked_in' THEN now() - interval '20 minutes' END) RETURNING id",
            &[&org, &patient.as_uuid(), &a.provider.as_uuid(), &kind, &minutes, &status],
        )
        .await
        .expect("visit")
    };
    // Around now, on today's date in New York (the fixture clinic's zone) whatever the hour:
    // offsets of minutes keep them today except just before midnight, which the clock avoids.
    let arriving = book(a.patients[0], 1, "booked").await;
    book(a.patients[1], -25, "checked_in").await;
    book(a.patients[2], -50, "no_show").await;
    let _ = arriving;

    for (who, home, says) in [
        (a.desk_context(), "/home/front-desk", "Today at the front desk"),
        (a.provider_context(), "/home/clinician", "My day"),
        (member(&app, a.org, StaffRole::ClinicalStaff).await.0, "/home/rooming", "Rooming queue"),
        (member(&app, a.org, StaffRole::CallCenterAgent).await.0, "/home/calls", "When a call comes in"),
    ] {
        app.act_as(Some(who));
        let res = app.get("/home").await;
        assert_eq!(res.headers()["location"], home);
        let (status, page) = get(&app, home).await;
        assert_eq!(status, 200, "{home}: {page}");
        assert!(page.contains(says), "{home}: {page}");
    }

    app.act_as(Some(a.desk_context()));
    let (_, page) = get(&app, "/home/front-desk").await;
    assert!(page.contains("1 to arrive") && page.contains("1 waiting"), "{page}");
    assert!(
        page.contains("action=\"/appointments/") && page.contains("/check-in\""),
        "check in from the home: {page}"
    );
    let events =
        "SELECT count(*) FROM audit_events WHERE purpose = 'home.front_desk' AND details ? 'patient_ids'";
    assert!(count(&app, events).await >= 1, "the home's list is on record with whom it showed");

    // The provider's unsigned draft waits on their home; nobody else's does.
    app.act_as(Some(a.provider_context()));
    let patient = a.patients[0];
    let res = app
        .post_form(&format!("/patients/{patient}/notes"), &[("title", "Follow-up"), ("plan", "Rest")])
        .await;
    assert_eq!(res.status(), 303);
    let (_, page) = get(&app, "/home/clinician").await;
    assert!(page.contains("Notes to sign") && page.contains("Follow-up"), "{page}");
    let (colleague, _) = member(&app, a.org, StaffRole::Provider).await;
    app.act_as(Some(colleague));
    let (_, page) = get(&app, "/home/clinician").await;
    assert!(!page.contains("Follow-up"), "a draft is its author's: {page}");

    // The nurse's queue has the checked-in patient, the longest wait first.
    let (nurse, _) = member(&app, a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    let (_, page) = get(&app, "/home/rooming").await;
    assert!(
        page.contains("&middot; waiting ") && page.contains("minutes"),
        "how long they have waited: {page}"
    );

    // Roles reach only their homes' permissions.
    let (agent, _) = member(&app, a.org, StaffRole::CallCenterAgent).await;
    app.act_as(Some(agent));
    assert_eq!(get(&app, "/home/clinician").await.0, 403);
    assert_eq!(get(&app, "/home/rooming").await.0, 403);
    let _ = post;
}
