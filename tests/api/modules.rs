//! Modules (ADM): a clinic switches parts of the product off and on. Every route the
//! registry declares in a switched-off module answers 404 for that clinic (and only that
//! clinic), its navigation entry leaves the header of sessions already open, patients and
//! proxies cannot enter a clinic whose portal is off, and everything comes back when the
//! module is switched on again. The change is audited with before and after.

use lockdev::auth::policy::{self, Module, Principal, StaffRole};
use lockdev::auth::session::ContextClaim;
use lockdev::web::{Access, RouteSpec};
use reqwest::{Method, StatusCode};

use crate::fixtures::signed_in;
use crate::helpers::TestApp;
use crate::workspace::{count, get, member, post, setup};

const ROLES: [StaffRole; 5] = [
    StaffRole::OrgAdmin,
    StaffRole::AdminStaff,
    StaffRole::Provider,
    StaffRole::ClinicalStaff,
    StaffRole::CallCenterAgent,
];

/// The status of `route` called by someone of `org` who may call it.
async fn call(
    app: &TestApp,
    route: &RouteSpec,
    staff: &[(StaffRole, lockdev::web::authenticate::Authenticated)],
    patient: &lockdev::web::authenticate::Authenticated,
) -> StatusCode {
    assert!(!route.path.contains('{'), "fill the parameters of {}", route.path);
    let who = match route.access {
        Access::Staff(permission) => staff
            .iter()
            .find(|(role, _)| policy::grants(Principal::Staff(*role), permission))
            .map(|(_, who)| who.clone())
            .expect("a role with the permission"),
        Access::Portal(_) => patient.clone(),
        other => panic!("a module route is a clinic route: {other:?}"),
    };
    app.act_as(Some(who));
    if route.method == Method::POST {
        app.post_form(route.path, &[]).await.status()
    } else {
        app.get(route.path).await.status()
    }
}

#[tokio::test]
async fn a_switched_off_module_vanishes_for_that_clinic_alone_and_comes_back() {
    let (app, tenants, _) = setup(1).await;
    let (a, b) = (&tenants.a, &tenants.b);
    let mut people = Vec::new();
    for (org, tenant) in [(a.org, a), (b.org, b)] {
        let mut staff = Vec::new();
        for role in ROLES {
            staff.push((role, member(&app, org, role).await.0));
        }
        let person = app.person(&format!("patient@{}.example", org), "a long enough secret phrase").await;
        app.link_patient(org, tenant.patients[0], &person).await;
        let patient = signed_in(
            person.id,
            ContextClaim::Patient { organization_id: org, patient_id: tenant.patients[0] },
        );
        people.push((staff, patient));
    }

    app.act_as(Some(a.admin_context()));
    let (status, page) = get(&app, "/settings/modules").await;
    assert_eq!(status, StatusCode::OK);
    for label in ["Patient portal", "Messaging", "Call center"] {
        assert!(page.contains(&format!("> {label}</label>")), "{label}: {page}");
    }
    assert!(
        page.contains("Not part of Lockdev yet: Self-scheduling, Documents, AI summaries, Billing."),
        "{page}"
    );
    assert_eq!(page.matches(" checked>").count(), 3, "everything in use at first: {page}");

    let switched: Vec<Module> = vec![Module::Messaging, Module::CallCenter];
    let routes: Vec<RouteSpec> =
        app.registry.iter().filter(|r| r.module.is_some_and(|m| switched.contains(&m))).cloned().collect();
    assert!(routes.len() >= 4, "the walk covers the declared routes: {routes:?}");

    // Off in A: each route of those modules answers 404 in A, not in B.
    let (status, _) = post(&app, "/settings/modules", &[("module", "patient_portal")]).await;
    assert_eq!(status, StatusCode::OK);
    let audited = "SELECT count(*) FROM audit_events WHERE purpose = 'clinic_modules'
                    AND details -> 'before' -> 'disabled_modules' = '[]'
                    AND details -> 'after' -> 'disabled_modules' = '[\"messaging\", \"call_center\"]'";
    assert_eq!(count(&app, audited).await, 1, "before and after");
    for route in &routes {
        assert_eq!(
            call(&app, route, &people[0].0, &people[0].1).await,
            StatusCode::NOT_FOUND,
            "A {} {}",
            route.method,
            route.path
        );
        assert_ne!(
            call(&app, route, &people[1].0, &people[1].1).await,
            StatusCode::NOT_FOUND,
            "B {} {}",
            route.method,
            route.path
        );
    }

    // On again: back in A.
    app.act_as(Some(a.admin_context()));
    let all = [("module", "patient_portal"), ("module", "messaging"), ("module", "call_center")];
    assert_eq!(post(&app, "/settings/modules", &all).await.0, StatusCode::OK);
    for route in &routes {
        assert_ne!(
            call(&app, route, &people[0].0, &people[0].1).await,
            StatusCode::NOT_FOUND,
            "A again {} {}",
            route.method,
            route.path
        );
    }

    // The portal off: a patient's context in A ends, B's does not.
    app.act_as(Some(a.admin_context()));
    assert_eq!(
        post(&app, "/settings/modules", &[("module", "messaging"), ("module", "call_center")]).await.0,
        StatusCode::OK
    );
    app.act_as(Some(people[0].1.clone()));
    assert_ne!(app.get("/portal").await.status(), StatusCode::OK);
    app.act_as(Some(people[1].1.clone()));
    assert_eq!(app.get("/portal").await.status(), StatusCode::OK);

    // A module's routes are clinic routes, and a part the registry does not have yet is
    // named, not offered.
    for route in app.registry.iter().filter(|r| r.module.is_some()) {
        assert!(route.access.clinic_permission().is_some(), "{}", route.path);
    }
}

/// The header of a session already open loses a switched-off module's entry at its next
/// page, and the route answers 404 without the session having to enter again.
#[tokio::test]
async fn an_open_sessions_header_follows_the_clinics_modules() {
    let (app, tenants, _) = setup(0).await;
    let a = &tenants.a;
    let agent = app.with_totp(app.person("agent@clinic.example", "a long enough secret phrase").await).await;
    app.member(a.org, &agent, "call_center_agent").await;
    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&agent, &app.clock).await, "/home");
    let page = browser.get("/home/calls").await.text().await.expect("page");
    assert!(page.contains("When a call comes in") && page.contains("href=\"/home/calls\""), "{page}");

    app.act_as(Some(a.admin_context()));
    let (status, _) =
        post(&app, "/settings/modules", &[("module", "patient_portal"), ("module", "messaging")]).await;
    assert_eq!(status, StatusCode::OK);
    app.act_as(None);
    assert_eq!(browser.get("/home/calls").await.status(), StatusCode::NOT_FOUND, "gone at once");
    let page = browser.get("/account").await.text().await.expect("page");
    assert!(page.contains("Account security") && !page.contains("href=\"/home/calls\""), "{page}");

    app.act_as(Some(a.admin_context()));
    let all = [("module", "patient_portal"), ("module", "messaging"), ("module", "call_center")];
    assert_eq!(post(&app, "/settings/modules", &all).await.0, StatusCode::OK);
    app.act_as(None);
    let page = browser.get("/home/calls").await.text().await.expect("page");
    assert!(page.contains("When a call comes in") && page.contains("href=\"/home/calls\""), "back: {page}");
}
