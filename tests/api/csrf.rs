//! Cross-site request forgery (CSRF-01..05): every state-changing request needs the
//! session's token and a same-site origin; no GET changes anything.

use lockdev::auth::policy::{PlatformRole, StaffRole};
use lockdev::auth::session::ContextClaim;
use lockdev::db::ids::PatientId;
use lockdev::web::Access;
use reqwest::Method;

use crate::fixtures::{phi_routes, signed_in, staff, two_tenants};
use crate::helpers::{Browser, TestApp, spawn_app};

/// A fingerprint of every table a request could change, except the ones a request may
/// legitimately touch on a read (the audit trail and the session store).
pub async fn fingerprint(app: &TestApp) -> Vec<(String, i64, String)> {
    let mut su = app.database().superuser().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables
          WHERE schemaname IN ('public', 'tower_sessions')
            AND relname NOT LIKE 'audit\\_%' AND relname NOT IN ('session', 'user_sessions', '_sqlx_migrations')
          ORDER BY 1",
    )
    .fetch_all(&mut su)
    .await
    .expect("tables");
    assert!(tables.len() > 20, "the fingerprint covers the data model: {tables:?}");
    let mut prints = Vec::new();
    for table in tables {
        let (count, digest): (i64, Option<String>) = sqlx::query_as(&format!(
            "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"
        ))
        .fetch_one(&mut su)
        .await
        .expect("fingerprint");
        prints.push((table, count, digest.unwrap_or_default()));
    }
    prints
}

pub fn changed(before: &[(String, i64, String)], after: &[(String, i64, String)]) -> Vec<String> {
    before.iter().zip(after).filter(|(b, a)| b != a).map(|(b, _)| b.0.clone()).collect()
}

/// Every declared route with a state-changing method, its parameters filled in. Routes
/// for machines (a provider's webhook) carry no session and no token: they are
/// authenticated by their signature instead (tested in messaging.rs).
fn state_changing(app: &TestApp, patient: PatientId) -> Vec<(Method, String)> {
    app.registry
        .iter()
        .filter(|r| {
            r.method != Method::GET
                && r.method != Method::HEAD
                && !matches!(r.access, Access::Machine | Access::Probe)
        })
        .map(|r| (r.method.clone(), fill(r.path, patient)))
        .collect()
}

pub fn fill(path: &str, patient: PatientId) -> String {
    let mut filled = path.replace("{patient_id}", &patient.to_string());
    while let Some(start) = filled.find('{') {
        let end = filled[start..].find('}').expect("closing brace") + start;
        filled.replace_range(start..=end, &PatientId::new().to_string());
    }
    filled
}

#[tokio::test]
async fn a_state_changing_request_without_the_token_is_refused_and_changes_nothing() {
    // CSRF-01, over every POST in the registry, as a form and as htmx (its header stripped).
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    app.act_as(Some(tenants.a.admin_context()));
    app.csrf_token().await; // a session exists, with a token the requests leave out
    let before = fingerprint(&app).await;
    let routes = state_changing(&app, tenants.a.patients[0]);
    assert!(routes.len() > 20, "{routes:?}");
    for (method, path) in &routes {
        let form = app
            .client
            .request(method.clone(), app.url(path))
            .form(&[("given_name", "Changed"), ("family_name", "Changed"), ("password", "whatever it is")])
            .send()
            .await
            .expect("request");
        assert_eq!(form.status(), 403, "form without a token: {method} {path}");
        let htmx = app
            .client
            .request(method.clone(), app.url(path))
            .header("HX-Request", "true")
            .form(&[("given_name", "Changed")])
            .send()
            .await
            .expect("request");
        assert_eq!(htmx.status(), 403, "htmx without X-CSRF-Token: {method} {path}");
        let wrong = app
            .client
            .request(method.clone(), app.url(path))
            .header("X-CSRF-Token", "not-the-token")
            .form(&[("given_name", "Changed")])
            .send()
            .await
            .expect("request");
        assert_eq!(wrong.status(), 403, "a wrong token: {method} {path}");
    }
    assert_eq!(changed(&before, &fingerprint(&app).await), Vec::<String>::new(), "nothing changed");
}

#[tokio::test]
async fn a_token_works_only_with_the_session_it_belongs_to() {
    // CSRF-02: two people signed in; one's token with the other's cookie.
    let app = spawn_app().spawn().await;
    let org = app.organization("Token Clinic").await;
    let first = app.with_totp(app.person("first@clinic.example", "quiet lake morning 42").await).await;
    let second = app.with_totp(app.person("second@clinic.example", "loud river evening 17").await).await;
    app.member(org, &first, "clinical_staff").await;
    app.member(org, &second, "clinical_staff").await;
    let (x, y) = (app.browser(), app.browser());
    x.sign_in_fully(&first, &app.clock).await;
    y.sign_in_fully(&second, &app.clock).await;
    let token_of_x = x.csrf_token().await;
    assert_ne!(token_of_x, y.csrf_token().await, "each session has its own token");

    let res = y
        .client
        .post(y.url("/account/sessions/end-others"))
        .header("X-CSRF-Token", &token_of_x)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403);
    let res = y
        .client
        .post(y.url("/sign-out"))
        .form(&[("csrf_token", token_of_x.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403, "not even a sign-out with someone else's token");
    assert_eq!(y.get("/account").await.status(), 200, "still signed in");
}

#[tokio::test]
async fn a_cross_site_request_is_refused_even_with_the_right_token() {
    // CSRF-03
    let app = spawn_app().spawn().await;
    let org = app.organization("Origin Clinic").await;
    let nurse = app.with_totp(app.person("origin@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    let token = browser.csrf_token().await;
    let hostile = [("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")];
    for (name, value) in hostile {
        let res = browser
            .client
            .post(browser.url("/account/sessions/end-others"))
            .header("X-CSRF-Token", &token)
            .header(name, value)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 403, "{name}: {value}");
    }
    // The same request from the page itself goes through.
    let res = browser
        .client
        .post(browser.url("/account/sessions/end-others"))
        .header("X-CSRF-Token", &token)
        .header("Sec-Fetch-Site", "same-origin")
        .header("Origin", "http://localhost")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
}

#[tokio::test]
async fn no_get_route_changes_anything_whoever_asks() {
    // CSRF-04: every GET in the registry, for every persona and signed out; only the
    // audit trail and the session store may change.
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let (org, patient) = (tenants.a.org, tenants.a.patients[0]);
    let mut personas = vec![None];
    for role in StaffRole::ALL {
        personas.push(Some(signed_in(tenants.a.admin_user, staff(org, role))));
    }
    personas.push(Some(signed_in(
        tenants.a.desk_user,
        ContextClaim::Patient { organization_id: org, patient_id: patient },
    )));
    personas.push(Some(signed_in(
        tenants.a.desk_user,
        ContextClaim::Proxy { organization_id: org, patient_id: patient },
    )));
    for role in [PlatformRole::SuperAdmin, PlatformRole::Auditor] {
        personas.push(Some(signed_in(tenants.a.desk_user, ContextClaim::Platform { role })));
    }
    let gets: Vec<String> =
        app.registry.iter().filter(|r| r.method == Method::GET).map(|r| fill(r.path, patient)).collect();
    assert!(gets.len() > 20, "{gets:?}");
    let before = fingerprint(&app).await;
    for persona in personas {
        app.act_as(persona.clone());
        for path in &gets {
            let res = app.get(path).await;
            assert!(res.status().as_u16() < 500, "{persona:?} GET {path}: {}", res.status());
            let fragment = app.get_fragment(path).await;
            assert!(fragment.status().as_u16() < 500, "{persona:?} htmx GET {path}");
        }
    }
    assert_eq!(changed(&before, &fingerprint(&app).await), Vec::<String>::new(), "a GET wrote");
}

#[tokio::test]
async fn signing_in_needs_the_pre_session_token_and_signing_out_is_a_protected_post() {
    // CSRF-05
    let app = spawn_app().spawn().await;
    let org = app.organization("Login Clinic").await;
    let nurse = app.with_totp(app.person("login@clinic.example", "quiet lake morning 42").await).await;
    app.member(org, &nurse, "clinical_staff").await;

    // Login CSRF: a forged sign-in (no token, or from another site) does not sign in.
    let victim = app.browser();
    let res = victim
        .client
        .post(victim.url("/sign-in"))
        .form(&[("email", nurse.email.as_str()), ("password", nurse.password.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403, "a sign-in without the form's token");
    let token = victim.csrf_token().await;
    let res = victim
        .client
        .post(victim.url("/sign-in"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("email", nurse.email.as_str()),
            ("password", nurse.password.as_str()),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403, "a cross-site sign-in");
    assert_eq!(victim.get("/account").await.status(), 303, "the victim is not signed in as anyone");

    // Logout CSRF: GET does nothing; a POST without the token does nothing.
    let browser: Browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    assert_eq!(browser.get("/sign-out").await.status(), 405);
    let res = browser.client.post(browser.url("/sign-out")).send().await.expect("request");
    assert_eq!(res.status(), 403);
    assert_eq!(browser.get("/account").await.status(), 200, "still signed in");
    let res = browser.post_form("/sign-out", &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(browser.get("/account").await.status(), 303, "signed out by the real form");
}

/// Pages are compressed and some reflect a visitor's input (`return_to`): a token that
/// were the same bytes on every page could be recovered from compressed lengths (BREACH).
/// Each response carries the session's token masked afresh; every masking works, the bare
/// token appears nowhere, and a token from another session still does not.
#[tokio::test]
async fn the_csrf_token_is_masked_afresh_in_every_response() {
    use crate::helpers::csrf_from;

    let app = spawn_app().spawn().await;
    let first = app.csrf_token().await;
    let second = app.csrf_token().await;
    assert_ne!(first, second, "each page shows different bytes");
    let mut su = app.database().superuser().await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM tower_sessions.session")
        .fetch_all(&mut su)
        .await
        .expect("sessions");
    assert_eq!(stored.len(), 1);
    let page = app.get("/sign-in?next=/account").await.text().await.expect("page");
    let shown = csrf_from(&page).expect("token");
    assert_ne!(shown, first);
    // The session's own token (in its stored values) is never on a page.
    let raw = String::from_utf8_lossy(&stored[0]).to_string();
    let bare: String = raw
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| w.len() == 43)
        .collect();
    assert!(!bare.is_empty(), "the stored token is found: {raw}");
    assert!(!page.contains(&bare), "the bare token is not on the page");
    for token in [first, second, shown] {
        let res = app
            .client
            .post(app.url("/password/strength"))
            .form(&[("password", "x"), ("csrf_token", &token)])
            .send()
            .await
            .expect("post");
        assert_ne!(res.status(), 403, "every masking of the token is accepted");
    }
    let other = app.browser();
    let foreign = other.csrf_token().await;
    let res = app
        .client
        .post(app.url("/password/strength"))
        .form(&[("password", "x"), ("csrf_token", &foreign)])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403, "another session's token is still refused");
}
