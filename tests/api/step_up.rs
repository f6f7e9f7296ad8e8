//! Step-up (`src/web/step_up.rs`): deciding where a patient's messages go, a clinic's
//! settings, someone's role and ending one's other sessions need a proof of identity from
//! the last few minutes; a session left open on a shared desk is not enough.

use chrono::TimeDelta;
use lockdev::clock::Clock as _;
use lockdev::web::authenticate::Authenticated;

use crate::fixtures::two_tenants;
use crate::helpers::{TestApp, spawn_app};

/// `who`, who last proved their identity ten minutes ago.
fn stale(app: &TestApp, mut who: Authenticated) -> Authenticated {
    who.reauthenticated_at = app.clock.now() - TimeDelta::minutes(10);
    who
}

fn asks_to_confirm(res: &reqwest::Response) -> bool {
    res.status() == 303
        && res.headers()["location"].to_str().is_ok_and(|l| l.starts_with("/account/reauthenticate?next="))
}

#[tokio::test]
async fn sensitive_changes_ask_for_the_password_again_after_five_minutes_and_change_nothing_before() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let mut su = app.database().superuser().await;
    let settings = [("timezone", "America/Chicago"), ("chart_access", "all_staff"), ("reminder_leads", "24")];

    // The clinic's settings.
    app.act_as(Some(stale(&app, a.admin_context())));
    let res = app.post_form("/settings", &settings).await;
    assert!(asks_to_confirm(&res), "{}", res.status());
    let zone: String = sqlx::query_scalar("SELECT timezone FROM organizations WHERE id = $1")
        .bind(a.org)
        .fetch_one(&mut su)
        .await
        .expect("zone");
    assert_ne!(zone, "America/Chicago", "nothing changed");
    app.act_as(Some(a.admin_context()));
    let res = app.post_form("/settings", &settings).await;
    assert!(!asks_to_confirm(&res), "a fresh proof is enough: {}", res.status());

    // A contact's safety flags: asked only when they change.
    let contact: uuid::Uuid = sqlx::query_scalar("SELECT id FROM contact_methods WHERE patient_id = $1")
        .bind(patient)
        .fetch_one(&mut su)
        .await
        .expect("contact");
    let path = format!("/patients/{patient}/contacts/{}", ulid::Ulid::from(contact));
    app.act_as(Some(stale(&app, a.desk_context())));
    let unchanged = [("kind", "mobile"), ("value", "(617) 555-0100"), ("label", "Cell")];
    let res = app.post_form(&path, &unchanged).await;
    assert_eq!(res.status(), 200, "a label needs no proof");
    let flagged = [("kind", "mobile"), ("value", "(617) 555-0100"), ("safe_sms", "1")];
    let res = app.post_form(&path, &flagged).await;
    assert!(asks_to_confirm(&res), "{}", res.status());
    let safe: bool = sqlx::query_scalar("SELECT is_safe_for_sms FROM contact_methods WHERE id = $1")
        .bind(contact)
        .fetch_one(&mut su)
        .await
        .expect("flag");
    assert!(!safe, "nothing changed");
    let res =
        app.post_form(&format!("/patients/{patient}/contacts/preferences"), &[("appointments", "sms")]).await;
    assert!(asks_to_confirm(&res));

    // Ending one's other sessions.
    let res = app.post_form("/account/sessions/end-others", &[]).await;
    assert!(asks_to_confirm(&res));
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
