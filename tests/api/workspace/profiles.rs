//! Member profiles: a provider who joined without a provider profile is made bookable
//! from their member page; licences are recorded and the ones running out show on the
//! administrator's home; staff profiles; who may do any of it.

use chrono::Duration;
use lockdev::auth::policy::StaffRole;
use lockdev::clock::Clock as _;
use lockdev::db::ids::{OrganizationId, ProviderId};
use reqwest::StatusCode;

use super::{count, get, in_clinic, member, next_monday, post, setup, ulid};

#[tokio::test]
async fn an_invited_provider_becomes_bookable_once_the_administrator_creates_their_profile() {
    let (app, tenants, kind) = setup(1).await;
    let a = &tenants.a;
    // Someone who joined as a provider (as an accepted invitation leaves them): a
    // membership, no provider profile.
    let (_, person) = member(&app, a.org, StaffRole::AdminStaff).await;
    let membership = in_clinic(
        &app,
        a.org,
        "INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'provider') RETURNING id",
        &[&a.org.as_uuid(), &person.as_uuid()],
    )
    .await
    .expect("membership");
    let page = format!("/members/{}/profile", ulid(membership));
    app.act_as(Some(a.admin_context()));
    let (status, home) = get(&app, "/home/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Providers who cannot be booked yet") && home.contains(&page), "{home}");
    let (status, body) = get(&app, &page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("Create the provider profile") && body.contains("cannot be given working hours"),
        "{body}"
    );

    // A wrong check digit, a DEA number that does not check, no credentials: each said
    // next to its field, what was typed kept, nothing written.
    let provider = format!("{page}/provider");
    let (status, body) =
        post(&app, &provider, &[("npi", "1234567890"), ("dea", "AB1234564"), ("credentials", "")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("check digit does not match") && body.contains("value=\"1234567890\""), "{body}");
    assert!(
        body.contains("A DEA number is two letters") && body.contains("Choose the credentials"),
        "{body}"
    );
    let providers = "SELECT count(*) FROM providers";
    assert_eq!(count(&app, providers).await, 2, "the fixture's two clinics' providers only");
    // The clinic's own provider already has this NPI.
    let (status, body) = post(&app, &provider, &[("npi", "1234567893"), ("credentials", "NP")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("Another provider of the clinic has this NPI."), "{body}");
    let (status, body) = post(
        &app,
        &provider,
        &[
            ("npi", "1234 5678 02"),
            ("dea", "ab1234563"),
            ("credentials", "NP"),
            ("specialty", "Family medicine"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Provider profile created"), "{body}");
    let provider_id = in_clinic(
        &app,
        a.org,
        "SELECT id FROM providers WHERE user_id = $1 AND npi = '1234567802' AND dea_number = 'AB1234563'",
        &[&person.as_uuid()],
    )
    .await
    .expect("the profile, as typed but normalized");
    let (_, home) = get(&app, "/home/admin").await;
    assert!(home.contains("Every provider has a provider profile."), "{home}");
    let audited = count(
        &app,
        "SELECT count(*) FROM audit_events WHERE resource_type = 'provider' AND action = 'create'
            AND details -> 'before' = 'null' AND details -> 'after' ->> 'npi' = '1234567802'",
    )
    .await;
    assert_eq!(audited, 1, "created, with its values after (and none before)");

    // Bookable: hours, then a visit with them.
    for weekday in 1..=5i32 {
        in_clinic(
            &app,
            a.org,
            "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends)
             VALUES ($1, $2, $3::int2, '09:00', '17:00') RETURNING id",
            &[&a.org.as_uuid(), &provider_id, &weekday],
        )
        .await;
    }
    app.act_as(Some(a.desk_context()));
    let (status, body) = post(
        &app,
        &format!("/patients/{}/appointments", a.patients[0]),
        &[
            ("provider_id", &ulid(provider_id)),
            ("type_id", &ulid(kind)),
            ("date", &next_monday().to_string()),
            ("time", "10:00"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Booked for"), "{body}");
}

#[tokio::test]
async fn licences_running_out_show_on_the_administrators_home_until_renewed() {
    let (app, tenants, _) = setup(0).await;
    let a = &tenants.a;
    let membership = in_clinic(
        &app,
        a.org,
        "SELECT id FROM memberships WHERE user_id = $1 AND role = 'provider'",
        &[&a.provider_user.as_uuid()],
    )
    .await
    .expect("the fixture provider's membership");
    let page = format!("/members/{}/profile", ulid(membership));
    let licences = format!("{page}/licences");
    app.act_as(Some(a.admin_context()));
    let today = app.clock.now().with_timezone(&chrono_tz::America::New_York).date_naive();
    let soon = (today + Duration::days(30)).to_string();
    let later = (today + Duration::days(400)).to_string();

    let (status, body) =
        post(&app, &licences, &[("state", "ZZ"), ("number", ""), ("expires_on", "2020-01-01")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Choose the state") && body.contains("That date has passed"), "{body}");
    let (status, body) =
        post(&app, &licences, &[("state", "ma"), ("number", "MD-4411"), ("expires_on", &soon)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("MA licence added") && body.contains("expires within 60 days"), "{body}");
    let (status, body) =
        post(&app, &licences, &[("state", "MA"), ("number", "MD-4411"), ("expires_on", &later)]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("already on the list"), "{body}");
    assert_eq!(
        post(&app, &licences, &[("state", "RI"), ("number", "RI-90"), ("expires_on", &later)]).await.0,
        200
    );

    let (_, home) = get(&app, "/home/admin").await;
    assert!(home.contains("MA MD-4411") && home.contains(&format!("expires {soon}")), "{home}");
    assert!(!home.contains("RI RI-90"), "a licence good for a year is not news");

    // Renewed: the old entry removed, the new one recorded.
    let licence =
        in_clinic(&app, a.org, "SELECT id FROM provider_licenses WHERE license_number = 'MD-4411'", &[])
            .await
            .expect("licence");
    let (status, body) = post(&app, &format!("{licences}/{}/remove", ulid(licence)), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        post(&app, &licences, &[("state", "MA"), ("number", "MD-4411"), ("expires_on", &later)]).await.0,
        200
    );
    let (_, home) = get(&app, "/home/admin").await;
    assert!(!home.contains("MD-4411"), "{home}");
    // Removing it again, or another clinic's licence id: not found.
    let (status, _) = post(&app, &format!("{licences}/{}/remove", ulid(uuid::Uuid::new_v4())), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn staff_profiles_keep_employee_ids_unique_and_only_the_administrator_edits_profiles() {
    let (app, tenants, _) = setup(0).await;
    let (a, b) = (&tenants.a, &tenants.b);
    let (_, nurse) = member(&app, a.org, StaffRole::ClinicalStaff).await;
    let (_, desk) = member(&app, a.org, StaffRole::AdminStaff).await;
    let membership_of = async |person: lockdev::db::ids::UserId| {
        ulid(
            in_clinic(&app, a.org, "SELECT id FROM memberships WHERE user_id = $1", &[&person.as_uuid()])
                .await
                .expect("membership"),
        )
    };
    let (nurse_page, desk_page) = (
        format!("/members/{}/profile", membership_of(nurse).await),
        format!("/members/{}/profile", membership_of(desk).await),
    );
    app.act_as(Some(a.admin_context()));
    let (status, body) = post(
        &app,
        &format!("{nurse_page}/staff"),
        &[("employee_id", " E-100 "), ("job_title", "Charge nurse")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Staff profile saved") && body.contains("value=\"E-100\""), "{body}");
    let (status, body) = post(&app, &format!("{desk_page}/staff"), &[("employee_id", "E-100")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("Another member of the clinic has this employee id."), "{body}");
    // A nurse's membership has no provider profile to write.
    let (status, _) =
        post(&app, &format!("{nurse_page}/provider"), &[("npi", "1234567802"), ("credentials", "NP")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(&app, &nurse_page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("Provider profile"), "{body}");

    // Nobody else at the clinic edits profiles; another clinic's administrator does not
    // find this clinic's members.
    app.act_as(Some(a.desk_context()));
    assert_eq!(get(&app, &nurse_page).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        post(&app, &format!("{nurse_page}/staff"), &[("job_title", "x")]).await.0,
        StatusCode::FORBIDDEN
    );
    app.act_as(Some(a.provider_context()));
    assert_eq!(get(&app, "/home/admin").await.0, StatusCode::FORBIDDEN);
    app.act_as(Some(b.admin_context()));
    assert_eq!(get(&app, &nurse_page).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        post(&app, &format!("{nurse_page}/staff"), &[("job_title", "x")]).await.0,
        StatusCode::NOT_FOUND
    );
    let job_title = count(&app, "SELECT count(*) FROM staff WHERE job_title = 'x'").await;
    assert_eq!(job_title, 0);
}

#[tokio::test]
async fn a_weekly_job_turns_licences_running_out_into_tasks_each_administrator_closes_in_their_clinic() {
    let (app, tenants, _) = setup(0).await;
    let (a, b) = (&tenants.a, &tenants.b);
    let today = app.clock.now().with_timezone(&chrono_tz::America::New_York).date_naive();
    let licence = async |org: OrganizationId, provider: ProviderId, state: &str, number: &str, days: i64| {
        let expires = (today + Duration::days(days)).to_string();
        in_clinic(
            &app,
            org,
            "INSERT INTO provider_licenses (organization_id, provider_id, state, license_number, expires_on)
             VALUES ($1, $2, $3, $4, $5::date) RETURNING id",
            &[&org.as_uuid(), &provider.as_uuid(), &state, &number, &expires.as_str()],
        )
        .await
        .expect("licence")
    };
    licence(a.org, a.provider, "MA", "A-SOON", 30).await;
    licence(a.org, a.provider, "NH", "A-GONE", -5).await;
    licence(a.org, a.provider, "RI", "A-LATER", 200).await;
    licence(b.org, b.provider, "VT", "B-SOON", 10).await;
    let weekly_round = || async {
        let kinds = lockdev::app::job_kinds(&app.state.notifier);
        lockdev::jobs::schedule::queue_due(&app.pool, &kinds, app.clock.now()).await.expect("schedule");
        app.run_jobs().await;
    };
    weekly_round().await;
    let tasks = async |org: OrganizationId| {
        let sql = format!(
            "SELECT count(*) FROM admin_tasks WHERE done_at IS NULL AND organization_id = '{}'",
            org.as_uuid()
        );
        count(&app, &sql).await
    };
    assert_eq!(tasks(a.org).await, 2, "the licence running out and the one that ran out; not next year's");
    assert_eq!(tasks(b.org).await, 1, "each clinic's own");
    // A week on, the same licences are not tasked twice.
    app.clock.advance(chrono::TimeDelta::days(7));
    weekly_round().await;
    assert_eq!(tasks(a.org).await, 2);

    app.act_as(Some(a.admin_context()));
    let (status, home) = get(&app, "/home/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        home.contains("MA licence A-SOON runs out on") && home.contains("NH licence A-GONE ran out on"),
        "{home}"
    );
    assert!(home.contains("overdue") && !home.contains("B-SOON") && !home.contains("A-LATER runs"), "{home}");
    let task = in_clinic(&app, a.org, "SELECT id FROM admin_tasks WHERE summary LIKE '%A-SOON%'", &[])
        .await
        .expect("task");
    let other = in_clinic(&app, b.org, "SELECT id FROM admin_tasks", &[]).await.expect("b's task");
    let (status, body) = post(&app, &format!("/home/admin/tasks/{}/done", ulid(task)), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Done: ") && body.contains("A-GONE"), "{body}");
    let (_, home) = get(&app, "/home/admin").await;
    assert!(!home.contains("A-SOON runs out"), "closed: {home}");
    // Closed already, or the other clinic's: not found, and nothing changes there.
    assert_eq!(
        post(&app, &format!("/home/admin/tasks/{}/done", ulid(task)), &[]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&app, &format!("/home/admin/tasks/{}/done", ulid(other)), &[]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(tasks(b.org).await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE resource_type = 'admin_task' AND action = 'update'"
        )
        .await,
        1
    );
    // The front desk does not run the clinic's administration.
    app.act_as(Some(a.desk_context()));
    let (status, _) = post(&app, &format!("/home/admin/tasks/{}/done", ulid(other)), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
