//! The route registry (AZ-03, AZ-02): every route is declared, and the declarations are
//! enforced and walked by tests.

use lockdev::auth::policy::{self, PlatformRole, StaffRole};
use lockdev::auth::session::ContextClaim;
use lockdev::db::ids::PatientId;
use lockdev::web::routes::claimed_principal;
use lockdev::web::{Access, Phi, RouteSpec};

use crate::fixtures::{phi_routes, signed_in, staff, two_tenants};
use crate::helpers::{files_under, spawn_app};

#[test]
fn no_route_is_added_outside_the_registry() {
    // The router is built from declarations only; `.route(` anywhere else in src/ would
    // add an undeclared route.
    let mut offenders = Vec::new();
    for path in files_under("src") {
        // The benchmark floor (F_http) is measured without the registry and its middleware
        // on purpose; `lockdev serve` never mounts it.
        if path.ends_with("src/web/routes.rs")
            || path.ends_with("src/bench/mod.rs")
            || path.extension().is_none_or(|e| e != "rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains(".route(")
                || code.contains(".nest(")
                || code.contains(".fallback(")
                || code.contains(".nest_service(")
            {
                offenders.push(format!("{}:{}: {}", path.display(), number + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "routes added outside src/web/routes.rs:\n{}", offenders.join("\n"));
}

#[test]
fn every_declaration_is_consistent() {
    let routes = crate::helpers::production_routes().merge(phi_routes());
    let specs = routes.specs();
    let mut seen = std::collections::HashSet::new();
    for spec in specs {
        assert!(
            seen.insert((spec.method.clone(), spec.path)),
            "declared twice: {} {}",
            spec.method,
            spec.path
        );
        if spec.phi != Phi::None {
            // Patient data only for a person known to the route (a machine route reads
            // no session, so there would be nobody to audit).
            assert!(
                !matches!(spec.access, Access::Public | Access::Machine | Access::Probe),
                "{} {} touches PHI but is declared {:?}",
                spec.method,
                spec.path,
                spec.access
            );
        }
        if spec.access == Access::Probe {
            assert_eq!(spec.method, axum::http::Method::GET, "{}: a health probe only reads", spec.path);
        }
        if spec.method == axum::http::Method::GET && spec.phi == Phi::Writes {
            panic!("{} {}: a GET must not write", spec.method, spec.path);
        }
    }
}

#[tokio::test]
async fn every_tenant_route_refuses_signed_out_callers_and_every_role_without_its_permission() {
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient = tenants.a.patients[0];
    let org = tenants.a.org;
    let claims: Vec<ContextClaim> = StaffRole::ALL
        .map(|role| staff(org, role))
        .into_iter()
        .chain([
            ContextClaim::Patient { organization_id: org, patient_id: PatientId::new() },
            ContextClaim::Proxy { organization_id: org, patient_id: PatientId::new() },
        ])
        .collect();
    let tenant_routes: Vec<_> =
        app.registry.iter().filter(|r| r.access.clinic_permission().is_some()).cloned().collect();
    assert!(!tenant_routes.is_empty());
    let mut refused = 0;
    for route in tenant_routes {
        let Some(permission) = route.access.clinic_permission() else { unreachable!() };
        let path = route
            .path
            .replace("{patient_id}", &patient.to_string())
            .replace("{membership_id}", &PatientId::new().to_string())
            .replace("{assignment_id}", &PatientId::new().to_string());
        // Signed out: to the sign-in page (an htmx request gets 401 and HX-Redirect).
        app.act_as(None);
        let token = app.csrf_token().await;
        let res = app
            .client
            .request(route.method.clone(), app.url(&path))
            .header("X-CSRF-Token", &token)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 303, "signed out: {} {}", route.method, route.path);
        assert!(res.headers()["location"].to_str().expect("ascii").starts_with("/sign-in"));
        let res = app
            .client
            .request(route.method.clone(), app.url(&path))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &token)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 401, "signed out, htmx: {} {}", route.method, route.path);
        assert!(res.headers()["hx-redirect"].to_str().expect("ascii").starts_with("/sign-in"));
        for claim in &claims {
            if policy::grants(claimed_principal(*claim), permission) {
                continue;
            }
            app.act_as(Some(signed_in(tenants.a.desk_user, *claim)));
            let status = refused_status(&app, &route, &path, &token).await;
            assert_eq!(status, 403, "{claim:?}: {} {}", route.method, route.path);
            refused += 1;
        }
    }
    // Each refusal is in the clinic's audit log, with what the route asked for.
    let denials = format!(
        "SELECT count(*) FROM audit_events WHERE organization_id = '{}' AND action = 'authz_denied'
            AND outcome = 'denied' AND purpose IS NOT NULL",
        org.as_uuid()
    );
    assert_eq!(crate::workspace::count(&app, &denials).await, refused);
}

/// The platform console's routes refuse every clinic context, patients, proxies and the
/// other platform role; platform work reaches no clinic route (TEN-14: break-glass is the
/// only way to a patient). Every refusal is audited, in the chain of the context refused.
#[tokio::test]
async fn every_platform_route_refuses_every_other_context_and_platform_work_no_clinic_route() {
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let org = tenants.a.org;
    let user = tenants.a.admin_user;
    let platform =
        [PlatformRole::SuperAdmin, PlatformRole::Auditor].map(|role| ContextClaim::Platform { role });
    let clinic: Vec<ContextClaim> = StaffRole::ALL
        .map(|role| staff(org, role))
        .into_iter()
        .chain([
            ContextClaim::Patient { organization_id: org, patient_id: tenants.a.patients[0] },
            ContextClaim::Proxy { organization_id: org, patient_id: tenants.a.patients[0] },
        ])
        .collect();
    let any_id = |path: &str| {
        let mut path = path.to_owned();
        while let (Some(open), Some(close)) = (path.find('{'), path.find('}')) {
            path.replace_range(open..=close, &PatientId::new().to_string());
        }
        path
    };
    let token = app.csrf_token().await;
    let mut refused_in_clinic = 0;
    let mut refused_on_platform = 0;
    let platform_routes: Vec<_> =
        app.registry.iter().filter(|r| matches!(r.access, Access::Platform(_))).cloned().collect();
    assert!(platform_routes.len() >= 8, "the consoles' routes: {}", platform_routes.len());
    for route in &platform_routes {
        let Access::Platform(role) = route.access else { unreachable!() };
        for claim in clinic.iter().chain(&platform) {
            if *claim == (ContextClaim::Platform { role }) {
                continue;
            }
            app.act_as(Some(signed_in(user, *claim)));
            let status = refused_status(&app, route, &any_id(route.path), &token).await;
            assert_eq!(status, 403, "{claim:?}: {} {}", route.method, route.path);
            if claim.organization_id().is_some() { refused_in_clinic += 1 } else { refused_on_platform += 1 }
        }
    }
    for route in app.registry.iter().filter(|r| r.access.clinic_permission().is_some()) {
        for claim in &platform {
            app.act_as(Some(signed_in(user, *claim)));
            let path = any_id(route.path).replace("{patient_id}", &tenants.a.patients[0].to_string());
            let status = refused_status(&app, route, &path, &token).await;
            assert_eq!(status, 403, "{claim:?}: {} {}", route.method, route.path);
            refused_on_platform += 1;
        }
    }
    let denials = |scope: &str| {
        format!(
            "SELECT count(*) FROM audit_events WHERE {scope} AND action = 'authz_denied' AND outcome = 'denied'
                AND actor_user_id = '{}'",
            user.as_uuid()
        )
    };
    let count = |sql: String| {
        let app = &app;
        async move { crate::workspace::count(app, &sql).await }
    };
    assert_eq!(count(denials(&format!("organization_id = '{}'", org.as_uuid()))).await, refused_in_clinic);
    assert_eq!(count(denials("organization_id IS NULL")).await, refused_on_platform);
}

/// The status `route` answers at `path` for the person the app acts as.
async fn refused_status(app: &crate::helpers::TestApp, route: &RouteSpec, path: &str, token: &str) -> u16 {
    let res = app
        .client
        .request(route.method.clone(), app.url(path))
        .header("X-CSRF-Token", token)
        .send()
        .await
        .expect("request");
    res.status().as_u16()
}
