//! The holes an outside review found in the built product (AUD-11, AZ-12, AZ-13, SES-13,
//! SES-14, TEN-15 and the smaller ones; AZ-11 and CON-06 are with the care team's and the
//! contacts' tests). Each test here failed before
//! its fix.

use chrono::TimeDelta;
use lockdev::auth::session::ContextClaim;
use lockdev::web::{Access, AppResult, Phi, Routes};
use reqwest::Method;

use crate::fixtures::{CANARY_A, signed_in};
use crate::helpers::spawn_app;
use crate::workspace::{count, get, in_clinic, post, setup, ulid};

// ---- AUD-11: what an error page shows is on record --------------------------------------

/// Every production PHI route, given bad input, as a provider on the patient's care team
/// (who may use every chart section): whatever status comes back, a response that shows
/// the patient has an audit event for that very request naming the patient — kept even
/// though a failed request's transaction rolls back.
#[tokio::test]
async fn every_phi_route_answering_bad_input_with_patient_data_has_its_audit_event() {
    let (app, tenants, kind) = setup(2).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let org = a.org.as_uuid();
    let contact =
        in_clinic(&app, a.org, "SELECT id FROM contact_methods WHERE patient_id = $1", &[&patient.as_uuid()])
            .await
            .expect("contact");
    let member_row = in_clinic(
        &app,
        a.org,
        "SELECT id FROM care_team_members WHERE patient_id = $1",
        &[&patient.as_uuid()],
    )
    .await
    .expect("member");
    let appointment = in_clinic(
        &app,
        a.org,
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
         VALUES ($1, $2, $3, $4, now() + interval '3 days', now() + interval '3 days 30 minutes') RETURNING id",
        &[&org, &patient.as_uuid(), &a.provider.as_uuid(), &kind],
    )
    .await
    .expect("appointment");
    let note = in_clinic(
        &app,
        a.org,
        "INSERT INTO clinical_notes (organization_id, patient_id, author_user_id, title, plan, status, signed_at, signed_by)
         VALUES ($1, $2, $3, 'Visit', 'NOTE-BODY-CANARY', 'signed', now(), $3) RETURNING id",
        &[&org, &patient.as_uuid(), &a.provider_user.as_uuid()],
    )
    .await
    .expect("note");
    let parent = app.person("parent.aud11@home.example", "a long enough phrase here").await;
    let assignment = in_clinic(
        &app,
        a.org,
        "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, status)
         VALUES ($1, $2, $3, 'parent', 'active') RETURNING id",
        &[&org, &patient.as_uuid(), &parent.id.as_uuid()],
    )
    .await
    .expect("grant");
    let task = in_clinic(
        &app,
        a.org,
        "INSERT INTO staff_tasks (organization_id, patient_id, kind, summary) VALUES ($1, $2, 'message_blocked', 'Call') RETURNING id",
        &[&org, &patient.as_uuid()],
    )
    .await
    .expect("task");
    let fill = |path: &str| {
        path.replace("{patient_id}", &patient.to_string())
            .replace("{contact_id}", &ulid(contact))
            .replace("{member_id}", &ulid(member_row))
            .replace("{assignment_id}", &ulid(assignment))
            .replace("{appointment_id}", &ulid(appointment))
            .replace("{note_id}", &ulid(note))
            .replace("{provider_id}", &a.provider.to_string())
            .replace("{task_id}", &ulid(task))
    };
    app.act_as(Some(a.provider_context()));
    let name = format!("{CANARY_A}-0");
    let mut routes: Vec<_> = app
        .registry
        .iter()
        .filter(|r| r.phi != Phi::None && r.method == Method::POST && matches!(r.access, Access::Staff(_)))
        .cloned()
        .collect();
    // Removing the patient from the registry last, so the other sections still open.
    routes.sort_by_key(|r| r.path == "/patients/{patient_id}/remove");
    assert!(routes.len() >= 20, "{}", routes.len());
    let mut pages_with_errors = 0;
    for route in routes {
        let path = fill(route.path);
        // Fields that are there but wrong: empty where something is required, a date that is
        // not one, a provider that does not exist.
        let res = app
            .client
            .post(app.url(&path))
            .header("X-CSRF-Token", app.csrf_token().await)
            .form(&[
                ("title", ""),
                ("body", ""),
                ("value", "not a number"),
                ("kind", "mobile"),
                ("date_of_birth", "31/31/31"),
                ("date", "someday"),
                ("provider_id", "nobody"),
                ("email", "not an address"),
                ("reason", ""),
            ])
            .send()
            .await
            .expect("request");
        let status = res.status();
        let request_id = res.headers()["x-request-id"].to_str().expect("ascii").to_owned();
        let body = res.text().await.expect("body");
        assert!(
            !body.contains("NOTE-BODY-CANARY") || status.is_success(),
            "{path}: an error page repeats the note"
        );
        if !body.contains(&name) {
            continue;
        }
        if status.is_client_error() {
            pages_with_errors += 1;
        }
        // A chart page names the patient in its event; a registry list (search) is an
        // event about the list.
        let mut su = app.database().superuser().await;
        let (events, with_status): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE details ? 'answer_status')
               FROM audit_events
              WHERE request_id = $1 AND action <> 'authz_denied' AND (patient_id = $2 OR NOT $3)",
        )
        .bind(&request_id)
        .bind(patient)
        .bind(route.path.contains("{patient_id}") || route.path.contains("{appointment_id}"))
        .fetch_one(&mut su)
        .await
        .expect("events");
        assert!(
            events >= 1,
            "POST {} answered {status} showing the patient, with no audit event",
            route.path
        );
        if status.is_client_error() {
            assert!(with_status >= 1, "POST {}: the event says the answer was {status}", route.path);
        }
    }
    assert!(pages_with_errors >= 10, "the walk reached the error pages ({pages_with_errors})");
}

#[tokio::test]
async fn an_empty_addendum_answers_with_the_form_and_not_the_note() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    let note = in_clinic(
        &app,
        tenants.a.org,
        "INSERT INTO clinical_notes (organization_id, patient_id, author_user_id, title, plan, status, signed_at, signed_by)
         VALUES ($1, $2, $3, 'Visit', 'NOTE-BODY-CANARY', 'signed', now(), $3) RETURNING id",
        &[&tenants.a.org.as_uuid(), &patient.as_uuid(), &tenants.a.provider_user.as_uuid()],
    )
    .await
    .expect("note");
    app.act_as(Some(tenants.a.provider_context()));
    let path = format!("/patients/{patient}/notes/{}/addenda", ulid(note));
    let res = app
        .client
        .post(app.url(&path))
        .header("X-CSRF-Token", app.csrf_token().await)
        .header("HX-Request", "true")
        .form(&[("body", "  ")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["hx-retarget"], "#addendum-form");
    let body = res.text().await.expect("body");
    assert!(body.contains("Write the addendum."), "{body}");
    assert!(!body.contains("NOTE-BODY-CANARY"), "{body}");
    let (status, page) = post(&app, &path, &[("body", "")]).await;
    assert_eq!(status, 422);
    assert!(!page.contains("NOTE-BODY-CANARY"), "the full page has the form, not the note");
}

// ---- AZ-12: patients and proxies act only as patients -----------------------------------

#[tokio::test]
async fn a_patient_or_a_scheduling_proxy_reaches_no_staff_route_and_changes_no_visit() {
    let (app, tenants, kind) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let appointment = in_clinic(
        &app,
        a.org,
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
         VALUES ($1, $2, $3, $4, now() + interval '10 minutes', now() + interval '40 minutes') RETURNING id",
        &[&a.org.as_uuid(), &patient.as_uuid(), &a.provider.as_uuid(), &kind],
    )
    .await
    .expect("appointment");
    let own = app.person("own.record@home.example", "a long enough phrase here").await;
    app.link_patient(a.org, patient, &own).await;
    let parent = app.person("scheduler@home.example", "a long enough phrase here").await;
    in_clinic(
        &app,
        a.org,
        "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, status, can_schedule)
         VALUES ($1, $2, $3, 'parent', 'active', true) RETURNING id",
        &[&a.org.as_uuid(), &patient.as_uuid(), &parent.id.as_uuid()],
    )
    .await;
    let contexts = [
        signed_in(own.id, ContextClaim::Patient { organization_id: a.org, patient_id: patient }),
        signed_in(parent.id, ContextClaim::Proxy { organization_id: a.org, patient_id: patient }),
    ];
    let staff_routes: Vec<_> =
        app.registry.iter().filter(|r| matches!(r.access, Access::Staff(_))).cloned().collect();
    for who in contexts {
        app.act_as(Some(who.clone()));
        let token = app.csrf_token().await;
        for route in &staff_routes {
            let path = route
                .path
                .replace("{patient_id}", &patient.to_string())
                .replace("{appointment_id}", &ulid(appointment));
            let path = crate::csrf::fill(&path, patient);
            let res = app
                .client
                .request(route.method.clone(), app.url(&path))
                .header("X-CSRF-Token", &token)
                .form(&[
                    ("provider_id", a.provider.to_string()),
                    ("date", "2030-01-01".into()),
                    ("time", "09:00".into()),
                ])
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), 403, "{:?}: {} {}", who.context, route.method, route.path);
        }
    }
    let status = count(
        &app,
        &format!("SELECT (status = 'booked')::int::bigint FROM appointments WHERE id = '{appointment}'"),
    )
    .await;
    assert_eq!(status, 1, "the visit is still booked: no check-in, completion, no-show or move");
}

// ---- TEN-15: invitations are no oracle ------------------------------------------------------

#[tokio::test]
async fn inviting_an_address_that_has_an_account_shows_only_what_the_inviter_typed() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    // Someone who already has an account (a patient elsewhere, say) under their own name.
    let existing = app.person("zelda.existing@home.example", "a long enough phrase here").await;
    let mut su = app.database().superuser().await;
    sqlx::query("UPDATE users SET display_name = 'Zelda HIDDEN-NAME' WHERE id = $1")
        .bind(existing.id)
        .execute(&mut su)
        .await
        .expect("name");
    app.act_as(Some(a.admin_context()));
    let (status, body) = post(
        &app,
        "/members/invite",
        &[
            ("display_name", "Z. Newhire"),
            ("email", "Zelda.Existing@home.example"),
            ("role", "clinical_staff"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Z. Newhire"), "{body}");
    assert!(!body.contains("HIDDEN-NAME"), "the account's own name leaks: {body}");
    let (_, page) = get(&app, "/members").await;
    assert!(!page.contains("HIDDEN-NAME"), "{page}");
    // A proxy invitation the same way.
    app.act_as(Some(a.desk_context()));
    let patient = a.patients[0];
    let (status, body) = post(
        &app,
        &format!("/patients/{patient}/proxies"),
        &[
            ("display_name", "Z. Parent"),
            ("email", "zelda.existing@home.example"),
            ("relationship", "parent"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Z. Parent") && !body.contains("HIDDEN-NAME"), "{body}");
}

// ---- the smaller ones ------------------------------------------------------------------------

#[tokio::test]
async fn a_request_naming_another_clinics_membership_answers_404() {
    let (app, tenants, _) = setup(0).await;
    let b_membership = in_clinic(
        &app,
        tenants.b.org,
        "SELECT id FROM memberships WHERE user_id = $1",
        &[&tenants.b.desk_user.as_uuid()],
    )
    .await
    .expect("membership");
    app.act_as(Some(tenants.a.admin_context()));
    for action in ["role", "deactivate", "reactivate"] {
        let path = format!("/members/{}/{action}", ulid(b_membership));
        assert_eq!(post(&app, &path, &[("role", "provider")]).await.0, 404, "{path}");
    }
    let role: String = {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT role FROM memberships WHERE id = $1")
            .bind(b_membership)
            .fetch_one(&mut su)
            .await
            .expect("role")
    };
    assert_eq!(role, "admin_staff", "nothing changed in the other clinic");
}

#[tokio::test]
async fn step_up_reauthentication_is_throttled_per_account_like_sign_in() {
    let app = spawn_app().spawn().await;
    let org = app.organization("Step-up Clinic").await;
    let nurse = app.with_totp(app.person("stepup@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    for _ in 0..6 {
        let res = browser
            .post_form("/account/reauthenticate", &[("password", "wrong guess"), ("next", "/account")])
            .await;
        assert_eq!(res.status(), 422);
    }
    // The right password during the lock is refused like a wrong one, and says why.
    let res = browser
        .post_form("/account/reauthenticate", &[("password", &nurse.password), ("next", "/account")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("Too many"), "locked");
    app.clock.advance(TimeDelta::minutes(16));
    // (the session has timed out by now; the lock is what this test is about)
    let mut su = app.database().superuser().await;
    let failures: i32 = sqlx::query_scalar(
        "SELECT failures FROM sign_in_throttle WHERE user_id = $1 AND factor = 'password'",
    )
    .bind(nurse.id)
    .fetch_one(&mut su)
    .await
    .expect("throttle");
    assert!(failures >= 5, "{failures}");
}

#[tokio::test]
async fn session_ids_and_parked_link_tokens_are_stored_only_as_digests() {
    let app = spawn_app().spawn().await;
    let org = app.organization("Digest Clinic").await;
    let nurse = app.with_totp(app.person("digest@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    let cookie = browser.session_cookie();
    // A reset link followed in a (signed-out) browser: the token is parked in its session.
    let visitor = app.browser();
    visitor.post_form("/password/forgot", &[("email", &nurse.email)]).await;
    let link = app.eventual_link_to(&nurse.email).await;
    let token = link.rsplit('/').next().expect("token").to_owned();
    assert_eq!(visitor.get(&link).await.status(), 303);
    let mut su = app.database().superuser().await;
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT id, data FROM tower_sessions.session").fetch_all(&mut su).await.expect("rows");
    assert!(rows.len() >= 2);
    for (id, data) in &rows {
        assert_ne!(id, &cookie, "a session row keyed by the cookie itself");
        assert_eq!(id.len(), 64);
        let text = String::from_utf8_lossy(data);
        assert!(!text.contains(&cookie), "a session id inside the data");
        assert!(!text.contains(&token), "a working reset token inside the session");
    }
    let indexed: Vec<String> =
        sqlx::query_scalar("SELECT session_id FROM user_sessions").fetch_all(&mut su).await.expect("index");
    assert!(!indexed.contains(&cookie));
    // And the parked digest still does its job.
    assert_eq!(visitor.get("/password/reset").await.status(), 200);
    let page = visitor.get("/password/reset").await.text().await.expect("page");
    assert!(page.contains(&nurse.email), "the parked token still finds its account");
}

#[tokio::test]
async fn a_clinic_that_shortens_its_idle_timeout_reaches_sessions_already_open() {
    let app = spawn_app().spawn().await;
    let org = app.organization("Short Idle Clinic").await;
    let nurse = app.with_totp(app.person("idle.short@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    assert_eq!(browser.get("/patients").await.status(), 200);
    // The clinic changes its setting while the session is open (15 minutes by default).
    let mut su = app.database().superuser().await;
    sqlx::query(
        "UPDATE organizations SET settings = settings || '{\"session_idle_minutes\": 5}' WHERE id = $1",
    )
    .bind(org)
    .execute(&mut su)
    .await
    .expect("setting");
    app.clock.advance(TimeDelta::minutes(6));
    let res = browser.get("/patients").await;
    assert_eq!(res.status(), 303, "six minutes idle is past the clinic's new limit");
    assert!(res.headers()["location"].to_str().expect("ascii").starts_with("/sign-in"));
    assert_eq!(browser.get("/account").await.status(), 303, "the session is over, not just the page");
}

#[tokio::test]
async fn with_a_one_minute_idle_timeout_a_person_acting_every_forty_seconds_stays_signed_in() {
    let app = spawn_app().spawn().await;
    let org = app.organization("One Minute Clinic").await;
    let mut su = app.database().superuser().await;
    sqlx::query(
        "UPDATE organizations SET settings = settings || '{\"session_idle_minutes\": 1}' WHERE id = $1",
    )
    .bind(org)
    .execute(&mut su)
    .await
    .expect("setting");
    let nurse = app.with_totp(app.person("idle.minute@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    for step in 0..12 {
        app.clock.advance(TimeDelta::seconds(40));
        assert_eq!(
            browser.get("/workspace").await.status(),
            200,
            "after {} seconds of steady use",
            40 * (step + 1)
        );
    }
    app.clock.advance(TimeDelta::seconds(61));
    assert_eq!(browser.get("/workspace").await.status(), 303, "a minute of real idleness still ends it");
}

// ---- SES-14: a revoked session stays revoked ------------------------------------------------

/// Holds its request until told, then writes its session (as a slow page that records
/// activity or a ceremony would). One per test process (nextest runs each test in its own).
#[derive(Default)]
struct Gate {
    arrived: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

static GATE: std::sync::LazyLock<Gate> = std::sync::LazyLock::new(Gate::default);

async fn slow_session_write(session: tower_sessions::Session) -> AppResult<&'static str> {
    let gate = &*GATE;
    let mut data = lockdev::auth::session::load(&session).await?;
    gate.arrived.notify_one();
    gate.release.notified().await;
    data.return_to = Some("/account".into());
    let expires = chrono::Utc::now() + TimeDelta::minutes(10);
    lockdev::auth::session::store(&session, &data, expires).await?;
    Ok("written")
}

#[tokio::test]
async fn a_session_ended_while_one_of_its_requests_is_in_flight_stays_ended() {
    let gate = &*GATE;
    let app = spawn_app()
        .routes(Routes::new().get("/test/slow-session", Access::SignedIn, Phi::None, slow_session_write))
        .spawn()
        .await;
    let org = app.organization("Race Clinic").await;
    let nurse = app.with_totp(app.person("race@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    let cookie = browser.session_cookie();
    let in_flight = {
        let browser = browser.clone();
        tokio::spawn(async move { browser.get("/test/slow-session").await.status() })
    };
    gate.arrived.notified().await;
    // Meanwhile, everything of this person's is signed out (a password change elsewhere).
    let mut tx = lockdev::db::tenant::begin_system(
        &app.pool,
        &lockdev::db::tenant::SystemContext { user_id: Some(nurse.id), ..Default::default() },
    )
    .await
    .expect("tx");
    let ended = lockdev::auth::sessions::end_all(&mut tx, nurse.id, None).await.expect("end");
    tx.commit().await.expect("commit");
    assert_eq!(ended, 1);
    gate.release.notify_one();
    in_flight.await.expect("request");
    let mut su = app.database().superuser().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session WHERE id = $1")
        .bind(lockdev::auth::session_store::digest(&cookie))
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(rows, 0, "the in-flight request did not bring the session back");
    assert_eq!(browser.get("/account").await.status(), 303);
}

#[tokio::test]
async fn a_session_ended_while_its_second_factor_is_checked_is_not_replaced_by_a_new_one() {
    // SES-14 by the other door: replacing a session (a new id at the second factor, a
    // context, a factor change) must not outlive "sign out everywhere" that ended it
    // while the request was in flight.
    let app = spawn_app().spawn().await;
    let org = app.organization("Rotation Clinic").await;
    let nurse = app.with_totp(app.person("rotate@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    let res = browser.sign_in(&nurse.email, &nurse.password).await;
    assert_eq!(res.headers()["location"], "/mfa");
    let token = browser.csrf_token().await;
    app.clock.advance(TimeDelta::seconds(30));
    let code = crate::helpers::totp_code(nurse.totp.as_ref().expect("totp"), &app.clock);

    // Hold the authenticator's row: the request stops at its code, after its session
    // was checked and before the session is replaced.
    let mut holder = app.database().superuser().await;
    sqlx::query("BEGIN").execute(&mut holder).await.expect("begin");
    sqlx::query("SELECT 1 FROM totp_credentials WHERE user_id = $1 FOR UPDATE")
        .bind(nurse.id.as_uuid())
        .execute(&mut holder)
        .await
        .expect("lock");
    let in_flight = {
        let browser = browser.clone();
        tokio::spawn(async move {
            browser
                .client
                .post(browser.url("/mfa/totp"))
                .form(&[("code", code.as_str()), ("csrf_token", token.as_str())])
                .send()
                .await
                .expect("request")
                .status()
        })
    };
    let mut watcher = app.database().superuser().await;
    let mut waiting = 0i64;
    for _ in 0..500 {
        waiting = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%totp_credentials%'",
        )
        .fetch_one(&mut watcher)
        .await
        .expect("activity");
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(waiting, 1, "the second factor request is waiting at its code");

    // Meanwhile, every session of this person is ended (a password reset elsewhere).
    let mut tx = lockdev::db::tenant::begin_system(
        &app.pool,
        &lockdev::db::tenant::SystemContext { user_id: Some(nurse.id), ..Default::default() },
    )
    .await
    .expect("tx");
    assert_eq!(lockdev::auth::sessions::end_all(&mut tx, nurse.id, None).await.expect("end"), 1);
    tx.commit().await.expect("commit");
    sqlx::query("COMMIT").execute(&mut holder).await.expect("release");

    let status = in_flight.await.expect("request");
    assert_eq!(status, 401, "the ended session was not replaced by a signed-in one");
    let sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tower_sessions.session s JOIN user_sessions u ON u.session_id = s.id WHERE u.user_id = $1",
    )
    .bind(nurse.id.as_uuid())
    .fetch_one(&mut watcher)
    .await
    .expect("count");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session")
        .fetch_one(&mut watcher)
        .await
        .expect("count");
    assert_eq!((sessions, stored), (0, 0), "no session of the nurse exists, indexed or not");
    assert_eq!(browser.get("/account").await.status(), 303);
}

#[tokio::test]
async fn a_cancelled_invitation_shows_no_account_name_and_cannot_be_reactivated() {
    // Invitations are no oracle, also once cancelled; a cancelled invitation is not a
    // membership anyone accepted.
    let (app, tenants, _) = setup(0).await;
    let existing = app.person("yusuf.existing@elsewhere.example", "a long enough phrase here").await;
    let mut su = app.database().superuser().await;
    sqlx::query("UPDATE users SET display_name = 'Yusuf HIDDEN-NAME' WHERE id = $1")
        .bind(existing.id)
        .execute(&mut su)
        .await
        .expect("name");
    app.act_as(Some(tenants.a.admin_context()));
    let fields = [
        ("display_name", "Y. Typed"),
        ("email", "yusuf.existing@elsewhere.example"),
        ("role", "admin_staff"),
    ];
    assert_eq!(post(&app, "/members/invite", &fields).await.0, 200);
    let membership = in_clinic(
        &app,
        tenants.a.org,
        "SELECT id FROM memberships WHERE user_id = $1",
        &[&existing.id.as_uuid()],
    )
    .await
    .expect("membership");
    let (status, page) = post(&app, &format!("/members/{}/deactivate", ulid(membership)), &[]).await;
    assert_eq!(status, 200, "{page}");
    let (_, page) = get(&app, "/members").await;
    assert!(page.contains("Y. Typed") && page.contains("cancelled"), "{page}");
    assert!(!page.contains("HIDDEN-NAME"), "the account's own name leaks once cancelled: {page}");
    let (status, _) = post(&app, &format!("/members/{}/reactivate", ulid(membership)), &[]).await;
    assert_eq!(status, 404, "a cancelled invitation does not become a membership");
    let state: String = sqlx::query_scalar("SELECT status FROM memberships WHERE id = $1")
        .bind(membership)
        .fetch_one(&mut su)
        .await
        .expect("status");
    assert_eq!(state, "suspended");
}

#[tokio::test]
async fn nobody_invites_themselves_or_changes_their_own_role() {
    let (app, tenants, _) = setup(1).await;
    let mut su = app.database().superuser().await;
    let email = |user: lockdev::db::ids::UserId| {
        sqlx::query_scalar::<_, String>("SELECT email::text FROM users WHERE id = $1").bind(user.as_uuid())
    };
    let admin_email = email(tenants.a.admin_user).fetch_one(&mut su).await.expect("email");
    app.act_as(Some(tenants.a.admin_context()));
    let fields = [("display_name", "Me Again"), ("email", admin_email.as_str()), ("role", "provider")];
    let (status, body) = post(&app, "/members/invite", &fields).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("You cannot invite yourself."), "{body}");
    let own = in_clinic(
        &app,
        tenants.a.org,
        "SELECT id FROM memberships WHERE user_id = $1",
        &[&tenants.a.admin_user.as_uuid()],
    )
    .await
    .expect("own membership");
    let (_, body) = post(&app, &format!("/members/{}/role", ulid(own)), &[("role", "provider")]).await;
    assert!(body.contains("your own"), "refused with a reason: {body}");
    let role: String = sqlx::query_scalar("SELECT role FROM memberships WHERE id = $1")
        .bind(own)
        .fetch_one(&mut su)
        .await
        .expect("role");
    assert_eq!(role, "org_admin");

    // Nor into a chart: not as its patient, not as its proxy.
    app.act_as(Some(tenants.a.desk_context()));
    let desk_email = email(tenants.a.desk_user).fetch_one(&mut su).await.expect("email");
    let patient = tenants.a.patients[0];
    let (status, body) =
        post(&app, &format!("/patients/{patient}/portal-invitation"), &[("email", desk_email.as_str())])
            .await;
    assert_eq!(status, 422, "{body}");
    let proxy = [("display_name", "Me"), ("email", desk_email.as_str()), ("relationship", "parent")];
    let (status, body) = post(&app, &format!("/patients/{patient}/proxies"), &proxy).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("You cannot invite yourself."), "{body}");
    let grants: i64 =
        sqlx::query_scalar("SELECT count(*) FROM patient_proxy_assignments WHERE proxy_user_id = $1")
            .bind(tenants.a.desk_user.as_uuid())
            .fetch_one(&mut su)
            .await
            .expect("grants");
    assert_eq!(grants, 0);
}

#[tokio::test]
async fn parallel_step_up_guesses_are_no_more_than_the_lock_allows() {
    // The attempt is counted before its hash is computed: eight guesses at once are
    // still five evaluated, the rest refused as locked.
    let app = spawn_app().spawn().await;
    let org = app.organization("Parallel Clinic").await;
    let nurse = app.with_totp(app.person("parallel@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    let token = browser.csrf_token().await;
    let guesses: Vec<_> = (0..8)
        .map(|i| {
            let (browser, token) = (browser.clone(), token.clone());
            tokio::spawn(async move {
                let guess = format!("wrong guess {i}");
                let fields =
                    [("password", guess.as_str()), ("next", "/account"), ("csrf_token", token.as_str())];
                browser
                    .client
                    .post(browser.url("/account/reauthenticate"))
                    .form(&fields)
                    .send()
                    .await
                    .expect("post")
                    .status()
            })
        })
        .collect();
    for guess in guesses {
        assert_eq!(guess.await.expect("guess"), 422);
    }
    let mut su = app.database().superuser().await;
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT details->>'reason' FROM audit_events WHERE action = 'login_failed' AND resource_id = $1 ORDER BY 1",
    )
    .bind(nurse.id.as_uuid())
    .fetch_all(&mut su)
    .await
    .expect("events");
    assert_eq!(reasons.len(), 8);
    assert_eq!(reasons.iter().filter(|r| *r == "step_up").count(), 5, "{reasons:?}");
}
