//! Audit coverage of the production routes that touch PHI (AUD-01): each has a case here
//! that calls it as the persona who uses it and finds an audit event naming the patient,
//! and a meta-test fails when a PHI route is declared without a case.

use lockdev::auth::session::ContextClaim;
use lockdev::db::ids::PatientId;
use lockdev::db::tenant::{TenantContext, begin_tenant};
use lockdev::web::Phi;
use reqwest::Method;

use crate::fixtures::{signed_in, two_tenants};
use crate::helpers::{TestApp, spawn_app};

/// Who calls a route and with which form.
enum Persona {
    Desk,
    Patient,
}

/// A form, as (field, value) pairs.
type Form = &'static [(&'static str, &'static str)];

/// The production PHI routes and how each is exercised: method, path, who, form.
const CASES: &[(&str, &str, Persona, Form)] = &[
    ("GET", "/contexts", Persona::Patient, &[]),
    ("GET", "/portal", Persona::Patient, &[]),
    ("GET", "/portal/text-messages", Persona::Patient, &[]),
    ("POST", "/portal/text-messages", Persona::Patient, &[]),
    ("POST", "/portal/text-messages/withdraw", Persona::Patient, &[]),
    ("GET", "/patients/{patient_id}/access", Persona::Desk, &[]),
    ("POST", "/patients/{patient_id}/portal-invitation", Persona::Desk, &[("email", "portal@home.example")]),
    (
        "POST",
        "/patients/{patient_id}/proxies",
        Persona::Desk,
        &[("display_name", "A Parent"), ("email", "parent@home.example"), ("relationship", "parent")],
    ),
    ("POST", "/patients/{patient_id}/proxies/{assignment_id}/revoke", Persona::Desk, &[]),
];

async fn events_for(app: &TestApp, patient: PatientId) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE patient_id = $1")
        .bind(patient)
        .fetch_one(&mut su)
        .await
        .expect("count")
}

#[test]
fn every_phi_route_has_an_audit_case() {
    let declared: Vec<(String, String)> = lockdev::web::routes()
        .specs()
        .iter()
        .filter(|r| r.phi != Phi::None)
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let cased: Vec<(String, String)> =
        CASES.iter().map(|(m, p, _, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    let missing: Vec<_> = declared.iter().filter(|d| !cased.contains(d)).collect();
    assert!(missing.is_empty(), "PHI routes without an audit case in phi_audit.rs: {missing:?}");
    let stale: Vec<_> = cased.iter().filter(|c| !declared.contains(c)).collect();
    assert!(stale.is_empty(), "cases for routes that are not PHI routes any more: {stale:?}");
}

#[tokio::test]
async fn every_production_phi_route_writes_an_audit_event_naming_the_patient() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let (org, patient) = (tenants.a.org, tenants.a.patients[0]);
    // The patient has a login; the clinic has text-message terms; a proxy grant exists to revoke.
    let person = app.person("audited@home.example", "a long enough secret phrase").await;
    let parent = app.person("granted@home.example", "another long phrase here").await;
    app.link_patient(org, patient, &person).await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    sqlx::query(
        "INSERT INTO consent_documents (organization_id, kind, version, title, body, effective_at)
         VALUES ($1, 'sms', '1', 'Text terms', 'Texts about care.', now() - interval '1 day')",
    )
    .bind(org)
    .execute(&mut *tx)
    .await
    .expect("terms");
    let assignment: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, status, starts_at)
         VALUES ($1, $2, $3, 'parent', 'active', now() - interval '1 day') RETURNING id",
    )
    .bind(org)
    .bind(patient)
    .bind(parent.id)
    .fetch_one(&mut *tx)
    .await
    .expect("grant");
    tx.commit().await.expect("commit");
    let assignment = lockdev::db::ids::ProxyAssignmentId::from_uuid(assignment);

    for (method, path, persona, form) in CASES {
        app.act_as(Some(match persona {
            Persona::Desk => tenants.a.desk_context(),
            Persona::Patient => {
                signed_in(person.id, ContextClaim::Patient { organization_id: org, patient_id: patient })
            }
        }));
        let url = path
            .replace("{patient_id}", &patient.to_string())
            .replace("{assignment_id}", &assignment.to_string());
        let before = events_for(&app, patient).await;
        let method: Method = method.parse().expect("method");
        let mut request = app.client.request(method.clone(), app.url(&url));
        if method != Method::GET {
            request = request.header("X-CSRF-Token", app.csrf_token().await).form(form);
        }
        let res = request.send().await.expect("request");
        assert!(res.status().is_success(), "{method} {path}: {}", res.status());
        let after = events_for(&app, patient).await;
        assert!(after > before, "{method} {path}: no audit event names the patient");
    }
}
