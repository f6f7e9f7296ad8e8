//! The route registry (AZ-03, AZ-02): every route is declared, and the declarations are
//! enforced and walked by tests.

use lockdev::auth::policy::{self, StaffRole};
use lockdev::auth::session::ContextClaim;
use lockdev::db::ids::PatientId;
use lockdev::web::routes::claimed_principal;
use lockdev::web::{Access, Phi};

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
            let res = app
                .client
                .request(route.method.clone(), app.url(&path))
                .header("X-CSRF-Token", &token)
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), 403, "{claim:?}: {} {}", route.method, route.path);
        }
    }
}
