//! Sessions: fixation, sign-out, timeouts, cookie attributes, revocation, hygiene,
//! concurrent sessions, step-up (SES-01..03, SES-05..12).

use chrono::TimeDelta;
use lockdev::auth::sessions::MAX_SESSIONS;
use lockdev::clock::Clock as _;
use lockdev::web::{Access, AppResult, Phi, Routes};

use crate::fixtures::{CANARY_A, two_tenants};
use crate::helpers::{Browser, TestApp, spawn_app};

async fn staff_app() -> (TestApp, crate::helpers::Person) {
    let app = spawn_app().spawn().await;
    let org = app.organization("Session Clinic").await;
    let nurse = app.with_totp(app.person("nurse@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    (app, nurse)
}

async fn signed_in(app: &TestApp, browser: &Browser, person: &crate::helpers::Person) {
    let landed = browser.sign_in_fully(person, &app.clock).await;
    assert_eq!(landed, "/home", "a single context is entered at once");
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_the_old_one_is_worthless() {
    // SES-01
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    browser.get("/sign-in").await;
    let before = browser.session_cookie();
    assert!(!before.is_empty(), "the sign-in form has a pre-session (for its CSRF token)");
    let res = browser.sign_in(&nurse.email, &nurse.password).await;
    let after_password = browser.session_cookie();
    assert_ne!(before, after_password, "cycled at the password step");
    assert_eq!(res.headers()["location"], "/mfa");
    let code = crate::helpers::totp_code(nurse.totp.as_ref().expect("totp"), &app.clock);
    browser.post_form("/mfa/totp", &[("code", &code)]).await;
    let after_factor = browser.session_cookie();
    assert_ne!(after_password, after_factor, "cycled again at the second factor");
    assert_eq!(browser.get("/account").await.status(), 200);

    // An attacker holding either earlier id has nothing.
    for old in [before, after_password] {
        let attacker = app.browser();
        attacker.set_session_cookie(&old);
        let res = attacker.get("/account").await;
        assert_eq!(res.status(), 303, "old id {old}");
        assert!(res.headers()["location"].to_str().expect("ascii").starts_with("/sign-in"));
    }
}

#[tokio::test]
async fn sign_out_deletes_the_server_record_and_clears_the_browser() {
    // SES-02
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    let cookie = browser.session_cookie();
    let res = browser.post_form("/sign-out", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["clear-site-data"], "\"cache\", \"cookies\", \"storage\"");
    let mut su = app.database().superuser().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session WHERE id = $1")
        .bind(lockdev::auth::session_store::digest(&cookie))
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(rows, 0);
    let replay = app.browser();
    replay.set_session_cookie(&cookie);
    assert_eq!(replay.get("/account").await.status(), 303);
    // Sign-out is POST only.
    assert_eq!(browser.get("/sign-out").await.status(), 405);
}

#[tokio::test]
async fn after_the_idle_timeout_a_page_asks_to_sign_in_and_htmx_gets_a_redirect_header() {
    // SES-03
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    app.clock.advance(TimeDelta::minutes(14));
    assert_eq!(browser.get("/account").await.status(), 200, "14 minutes idle is fine");
    app.clock.advance(TimeDelta::minutes(14));
    assert_eq!(browser.get("/account").await.status(), 200, "the last request counted as activity");

    // What an open page calls by itself (the live schedule's event stream and its
    // reloads: routes the server declares background) does not keep the session alive.
    for n in 0..3 {
        app.clock.advance(TimeDelta::minutes(4));
        let path = if n % 2 == 0 { "/schedule/live" } else { "/schedule/events" };
        let res = browser.client.get(browser.url(path)).send().await.expect("poll");
        assert_eq!(res.status(), 200, "{path}: {:?}", res.headers().get("location"));
    }
    // Sixteen minutes after the last action.
    app.clock.advance(TimeDelta::minutes(4));
    let res = browser
        .client
        .get(browser.url("/account"))
        .header("HX-Request", "true")
        .header("HX-Current-URL", "http://localhost/account")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["hx-redirect"], "/sign-in?next=%2Faccount");
    let page = browser.get("/account").await;
    assert_eq!(page.status(), 303);
}

#[tokio::test]
async fn a_request_cannot_make_itself_background_with_a_header() {
    // B9: the server decides what is activity, by route. A header a request sends about
    // itself is ignored: a page request marked "background" still counts, and one not
    // marked still counts, so a script cannot opt out of extending (or, conversely, a
    // poll cannot extend) by what it claims.
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    for _ in 0..3 {
        app.clock.advance(TimeDelta::minutes(10));
        let res = browser
            .client
            .get(browser.url("/account"))
            .header("X-Lockdev-Background", "1")
            .header("Accept", "text/event-stream")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "a person's page counts as activity whatever it says of itself");
    }
}

#[tokio::test]
async fn twelve_hours_after_sign_in_everyone_signs_in_again_however_active() {
    // SES-05
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    for _ in 0..(12 * 6 - 1) {
        app.clock.advance(TimeDelta::minutes(10));
        assert_eq!(browser.get("/account").await.status(), 200);
    }
    app.clock.advance(TimeDelta::minutes(10));
    let res = browser.get("/account").await;
    assert_eq!(res.status(), 303, "forced re-authentication at the absolute timeout");
}

#[tokio::test]
async fn the_server_side_expiry_follows_the_idle_timeout_not_a_two_week_default() {
    // SES-06
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    let mut su = app.database().superuser().await;
    let expiry: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT expiry_date FROM tower_sessions.session WHERE id = $1")
            .bind(lockdev::auth::session_store::digest(&browser.session_cookie()))
            .fetch_one(&mut su)
            .await
            .expect("session row");
    assert!(expiry <= app.clock.now() + TimeDelta::minutes(15), "{expiry}");
    assert!(expiry > app.clock.now() + TimeDelta::minutes(14), "{expiry}");
}

#[tokio::test]
async fn cookie_attributes_are_strict_and_host_only() {
    // SES-07, over https (the __Host- prefix and Secure) and plain-http development.
    let app = spawn_app().env("LOCKDEV_PUBLIC_URL", "https://localhost").spawn().await;
    let res = app.get("/sign-in").await;
    let cookie = res.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(cookie.starts_with("__Host-lockdev="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");

    let dev = spawn_app().spawn().await;
    let cookie = dev.get("/sign-in").await.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    assert!(cookie.starts_with("lockdev_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && !cookie.contains("Domain"),
        "{cookie}"
    );
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session() {
    // SES-08
    let (app, nurse) = staff_app().await;
    let first = app.browser();
    let second = app.browser();
    signed_in(&app, &first, &nurse).await;
    signed_in(&app, &second, &nurse).await;
    let res = first.post_form("/account/password", &[("password", "an entirely new passphrase")]).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    assert_eq!(first.get("/account").await.status(), 200, "the session that made the change stays");
    assert_eq!(second.get("/account").await.status(), 303, "every other session ended");
}

#[tokio::test]
async fn disabling_an_account_ends_all_its_sessions_and_stops_sign_in() {
    // SES-08, account disable
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    let mut tx = lockdev::db::tenant::begin_system(
        &app.pool,
        &lockdev::db::tenant::SystemContext { user_id: Some(nurse.id), ..Default::default() },
    )
    .await
    .expect("tx");
    lockdev::auth::sessions::disable_account(&mut tx, nurse.id).await.expect("disable");
    tx.commit().await.expect("commit");
    assert_eq!(browser.get("/account").await.status(), 303);
    let res = app.browser().sign_in(&nurse.email, &nurse.password).await;
    assert_eq!(res.status(), 422, "a disabled account cannot sign in");
}

#[tokio::test]
async fn the_accounts_disable_command_ends_the_sessions_and_records_why() {
    // SES-08 from the command line, until the platform console has a page for it.
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    let run = |email: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_lockdev"))
            .args(["accounts", "disable", "--email", email, "--reason", "left the clinic"])
            .env_clear()
            .env("LOCKDEV_ENV", "development")
            .env("LOCKDEV_DATABASE_URL", &app.database().runtime_url)
            .env("LOCKDEV_LOG", "error")
            .output()
            .expect("run lockdev accounts disable")
    };
    let unknown = run("nobody@clinic.example");
    assert!(!unknown.status.success(), "an unknown address is an error");
    assert_eq!(browser.get("/account").await.status(), 200, "nothing changed");

    let out = run(&nurse.email);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("1 session(s) ended"), "{printed}");
    assert_eq!(browser.get("/account").await.status(), 303, "the open session ended");
    assert_eq!(app.browser().sign_in(&nurse.email, &nurse.password).await.status(), 422);

    let owner = app.database().owner_pool().await;
    let (actor, reason): (String, Option<String>) = sqlx::query_as(
        "SELECT actor_kind, details->>'reason' FROM audit_events WHERE action = 'account_disabled' AND resource_id = $1",
    )
    .bind(nurse.id.as_uuid())
    .fetch_one(&owner)
    .await
    .expect("the event");
    assert_eq!((actor.as_str(), reason.as_deref()), ("system", Some("left the clinic")));
}

#[tokio::test]
async fn the_session_record_holds_no_patient_data_no_secrets_no_passwords() {
    // SES-09: after a patient looks at their portal, decode every session record.
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient_person = app.person("patient@home.example", "a long enough secret phrase").await;
    app.link_patient(tenants.a.org, tenants.a.patients[0], &patient_person).await;
    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&patient_person, &app.clock).await, "/home");
    let portal = browser.get("/portal").await;
    assert_eq!(portal.status(), 200);
    assert!(portal.text().await.expect("body").contains("Pat0"), "the portal shows the patient's name");

    let mut su = app.database().superuser().await;
    let rows: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT data FROM tower_sessions.session").fetch_all(&mut su).await.expect("rows");
    assert!(!rows.is_empty());
    for data in rows {
        // The record is MessagePack: strings appear in it as their UTF-8 bytes.
        let text = String::from_utf8_lossy(&data);
        for canary in [CANARY_A, "Pat0", "a long enough secret phrase", "argon2"] {
            assert!(!text.contains(canary), "{canary} in a session record: {text}");
        }
    }
}

#[tokio::test]
async fn the_session_id_never_reaches_logs_or_pages() {
    // SES-10
    let app = spawn_app().capture_logs().spawn().await;
    let org = app.organization("Log Clinic").await;
    let nurse = app.with_totp(app.person("logs@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.default_browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    let cookie = browser.session_cookie();
    let mut bodies = String::new();
    for path in ["/account", "/contexts", "/workspace", "/no/such/page"] {
        bodies.push_str(&browser.get(path).await.text().await.expect("body"));
    }
    assert!(!bodies.contains(&cookie), "the session id appeared in a page");
    assert!(!app.logs.contents().contains(&cookie), "the session id appeared in the logs");
    assert!(!app.logs.contents().contains(&nurse.password));
}

#[tokio::test]
async fn a_person_sees_their_sessions_can_end_the_others_and_at_most_ten_live() {
    // SES-11
    let (app, nurse) = staff_app().await;
    let browsers: Vec<Browser> = (0..3).map(|_| app.browser()).collect();
    for browser in &browsers {
        signed_in(&app, browser, &nurse).await;
    }
    let page = browsers[0].get("/account").await.text().await.expect("body");
    assert_eq!(page.matches("Since ").count(), 3, "three sessions listed");
    // One other session on its own (a lost phone): the others stay.
    let keys: Vec<String> = page
        .split("name=\"session\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().expect("a key").to_owned())
        .collect();
    assert_eq!(keys.len(), 2, "each other session can be signed out, not this one");
    let cookies: Vec<String> = browsers.iter().map(Browser::session_cookie).collect();
    assert!(
        keys.iter().all(|key| !cookies.iter().any(|cookie| key.contains(cookie.as_str()))),
        "no session id"
    );
    let res = browsers[0].post_form("/account/sessions/end", &[("session", keys[0].as_str())]).await;
    assert!(res.text().await.expect("body").contains("That session was signed out."));
    let mut still = Vec::new();
    for browser in &browsers[1..] {
        still.push(browser.get("/account").await.status().as_u16());
    }
    assert_eq!(still.iter().filter(|s| **s == 303).count(), 1, "exactly one other ended: {still:?}");
    let res = browsers[0].post_form("/account/sessions/end-others", &[]).await;
    assert!(res.text().await.expect("body").contains("Signed out of 1 other session(s)."));
    assert_eq!(browsers[1].get("/account").await.status(), 303);
    assert_eq!(browsers[2].get("/account").await.status(), 303);
    assert_eq!(browsers[0].get("/account").await.status(), 200);

    // The documented limit: the oldest session ends when an eleventh begins.
    let many: Vec<Browser> = (0..MAX_SESSIONS).map(|_| app.browser()).collect();
    for browser in &many {
        app.clock.advance(TimeDelta::seconds(1));
        signed_in(&app, browser, &nurse).await;
    }
    assert_eq!(browsers[0].get("/account").await.status(), 303, "the oldest of eleven ended");
    assert_eq!(many[0].get("/account").await.status(), 200);
}

#[tokio::test]
async fn a_sensitive_change_needs_a_fresh_proof_of_identity() {
    // SES-12
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    app.clock.advance(TimeDelta::minutes(6));
    let res = browser.post_form("/account/password", &[("password", "another long passphrase here")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account/reauthenticate?next=%2Faccount");
    let wrong = browser
        .post_form("/account/reauthenticate", &[("password", "not it at all"), ("next", "/account")])
        .await;
    assert_eq!(wrong.status(), 422);
    let ok = browser
        .post_form("/account/reauthenticate", &[("password", &nurse.password), ("next", "/account")])
        .await;
    assert_eq!(ok.status(), 303);
    let res = browser.post_form("/account/password", &[("password", "another long passphrase here")]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("body").contains("Your password was changed"));
}

#[tokio::test]
async fn a_clinic_can_shorten_the_idle_timeout_but_not_lengthen_it() {
    let (app, nurse) = staff_app().await;
    let mut su = app.database().superuser().await;
    sqlx::query("UPDATE organizations SET settings = settings || '{\"session_idle_minutes\": 5}'")
        .execute(&mut su)
        .await
        .expect("shorten");
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    app.clock.advance(TimeDelta::minutes(4));
    assert_eq!(browser.get("/account").await.status(), 200);
    app.clock.advance(TimeDelta::minutes(5) + TimeDelta::seconds(1));
    assert_eq!(browser.get("/account").await.status(), 303, "five idle minutes, as the clinic asked");

    sqlx::query("UPDATE organizations SET settings = settings || '{\"session_idle_minutes\": 600}'")
        .execute(&mut su)
        .await
        .expect("lengthen");
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    app.clock.advance(TimeDelta::minutes(15) + TimeDelta::seconds(1));
    assert_eq!(browser.get("/account").await.status(), 303, "never longer than the staff default");
}

#[tokio::test]
async fn over_verified_tls_every_connection_of_the_pool_is_encrypted() {
    let app = spawn_app().database_over_verified_tls().spawn().await;
    let org = app.organization("Session Clinic").await;
    let nurse = app.with_totp(app.person("nurse@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    assert_eq!(browser.get("/account").await.status(), 200);

    let mut superuser = app.database().superuser().await;
    let connections: Vec<(String, bool)> = sqlx::query_as(
        "SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid
          WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.application_name LIKE 'lockdev%'",
    )
    .fetch_all(&mut superuser)
    .await
    .unwrap();
    assert!(!connections.is_empty(), "the pool in use: {connections:?}");
    assert!(connections.iter().all(|(_, ssl)| *ssl), "every connection is encrypted: {connections:?}");
}

/// Outside a clinic no tenant transaction re-checks the person, so the routes there do it
/// themselves: an account disabled while its session lives is sent to sign in, a platform
/// role revoked is refused on the next request, and a patient removed from the registry is
/// nobody's to act for any more.
#[tokio::test]
async fn every_route_rechecks_the_account_the_platform_role_and_the_patient_acted_for() {
    use lockdev::auth::session::ContextClaim;

    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let mut su = app.database().superuser().await;

    // A platform auditor, signed in for real (the standing is read with the session), in
    // their platform context.
    let auditor =
        app.with_totp(app.person("auditor@platform.example", "a long enough phrase here").await).await;
    sqlx::query("INSERT INTO platform_roles (user_id, role) VALUES ($1, 'auditor')")
        .bind(auditor.id)
        .execute(&mut su)
        .await
        .expect("role");
    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&auditor, &app.clock).await, "/home", "the one context is entered");
    assert_eq!(browser.get("/compliance").await.status(), 200);
    assert_eq!(browser.get("/account").await.status(), 200);
    sqlx::query("UPDATE platform_roles SET revoked_at = now(), revoked_by = user_id WHERE user_id = $1")
        .bind(auditor.id)
        .execute(&mut su)
        .await
        .expect("revoke");
    assert_eq!(browser.get("/compliance").await.status(), 403, "the role ended");
    assert_eq!(browser.get("/account").await.status(), 403, "nor does its context reach the account page");

    // A person whose account is disabled while a session of theirs lives on (a nurse,
    // signed in to their clinic, on the pages outside it).
    let nurse = app.with_totp(app.person("nurse@clinic.example", "a long enough phrase here").await).await;
    app.member(tenants.a.org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&nurse, &app.clock).await, "/home");
    assert_eq!(browser.get("/account").await.status(), 200);
    sqlx::query("UPDATE users SET disabled_at = now() WHERE id = $1")
        .bind(nurse.id)
        .execute(&mut su)
        .await
        .expect("disable");
    let res = browser.get("/account").await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"].to_str().expect("ascii").starts_with("/sign-in"));
    let ended: i64 = sqlx::query_scalar("SELECT count(*) FROM tower_sessions.session WHERE user_id = $1")
        .bind(nurse.id)
        .fetch_one(&mut su)
        .await
        .expect("sessions");
    assert_eq!(ended, 0, "the session ended with the refusal");
    for path in ["/account", "/contexts", "/home"] {
        let res = browser.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert!(res.headers()["location"].to_str().expect("ascii").starts_with("/sign-in"), "{path}");
    }

    // A parent acting for a child, then the child is removed from the registry.
    let child = tenants.a.patients[0];
    let parent = app.person("parent@home.example", "a long enough phrase here").await;
    sqlx::query(
        "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, status, starts_at)
         VALUES ($1, $2, $3, 'parent', 'active', now() - interval '1 day')",
    )
    .bind(tenants.a.org)
    .bind(child)
    .bind(parent.id)
    .execute(&mut su)
    .await
    .expect("grant");
    let proxy = crate::fixtures::signed_in(
        parent.id,
        ContextClaim::Proxy { organization_id: tenants.a.org, patient_id: child },
    );
    app.act_as(Some(proxy.clone()));
    let res = app.get("/portal").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("body").contains("Caring for"));
    app.act_as(Some(tenants.a.desk_context()));
    let res = app
        .post_form(&format!("/patients/{child}/remove"), &[("reason", "Duplicate record"), ("confirm", "1")])
        .await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    app.act_as(Some(proxy));
    let res = app.get("/portal").await;
    assert_eq!(res.status(), 403);
    assert!(!res.text().await.expect("body").contains("Caring for"));
    let status: String =
        sqlx::query_scalar("SELECT status FROM patient_proxy_assignments WHERE proxy_user_id = $1")
            .bind(parent.id)
            .fetch_one(&mut su)
            .await
            .expect("grant");
    assert_eq!(status, "revoked", "the grant ended with the removal");
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
async fn the_account_page_shows_times_in_the_persons_own_timezone() {
    // FR-07: times in the viewer's zone (their own, else the clinic's), never bare UTC.
    let (app, nurse) = staff_app().await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    let res = browser.post_form("/account/timezone", &[("timezone", "Mars/Olympus_Mons")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("Choose a timezone from the list."));
    let res = browser.post_form("/account/timezone", &[("timezone", "America/Chicago")]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("body");
    assert!(page.contains("Times now show in America/Chicago."), "{page}");
    assert!(page.contains(" CST") || page.contains(" CDT"), "the session's time in Chicago: {page}");
    assert!(!page.contains(" UTC<"), "{page}");
    let res = browser.post_form("/account/timezone", &[("timezone", "")]).await;
    assert!(res.text().await.expect("body").contains("Times now show in your clinic"));
}

/// The standing read with a session comes from the person its row names; a row that does
/// not name the person its values sign in (written before the column, or altered) signs
/// no one in on the pages outside a clinic.
#[tokio::test]
async fn a_session_row_that_does_not_name_its_person_is_read_as_closed() {
    let app = spawn_app().spawn().await;
    let org = app.organization("Row Clinic").await;
    let nurse = app.with_totp(app.person("row@clinic.example", "quiet lake morning 42").await).await;
    let other = app.person("other@clinic.example", "quiet lake morning 43").await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    signed_in(&app, &browser, &nurse).await;
    assert_eq!(browser.get("/account").await.status(), 200);

    let mut su = app.database().superuser().await;
    for named in [None, Some(other.id)] {
        let id = lockdev::auth::session_store::digest(&browser.session_cookie());
        sqlx::query("UPDATE tower_sessions.session SET user_id = $2 WHERE id = $1")
            .bind(&id)
            .bind(named)
            .execute(&mut su)
            .await
            .expect("row");
        let res = browser.get("/account").await;
        assert_eq!(res.status(), 303, "row naming {named:?}");
        assert!(res.headers()["location"].to_str().expect("ascii").starts_with("/sign-in"));
        // Signing in again writes a row that names its person.
        signed_in(&app, &browser, &nurse).await;
        assert_eq!(browser.get("/account").await.status(), 200);
    }
}
