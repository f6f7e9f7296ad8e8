//! The role matrix over every chart route, cross-tenant probes with the other clinic's real ids, PHI declarations.

use lockdev::auth::policy::{self, StaffRole};
use lockdev::auth::session::ContextClaim;
use lockdev::db::ids::UserId;
use lockdev::web::authenticate::Authenticated;
use lockdev::web::routes::claimed_principal;
use lockdev::web::{Access, Phi};
use reqwest::Method;
use uuid::Uuid;

use super::{count, in_clinic, member, setup, ulid};
use crate::fixtures::{CANARY_B, TwoTenants, signed_in};
use crate::helpers::TestApp;

// ---- the role matrix over every chart route ------------------------------------------------

#[tokio::test]
async fn each_role_reaches_exactly_the_chart_sections_its_policy_allows() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    let mut personas = Vec::new();
    for role in StaffRole::ALL {
        personas.push((role, member(&app, tenants.a.org, role).await.0));
    }
    let routes: Vec<_> = app
        .registry
        .iter()
        .filter(|r| r.path.starts_with("/patients/{patient_id}") && r.access.clinic_permission().is_some())
        .cloned()
        .collect();
    assert!(routes.len() >= 20, "{}", routes.len());
    for route in &routes {
        let Some(permission) = route.access.clinic_permission() else { unreachable!() };
        // Objects the path names beyond the patient do not exist: an allowed role gets
        // 404 there, a refused one 403 before the lookup.
        let path = crate::csrf::fill(route.path, patient);
        let names_other_object = route.path.matches('{').count() > 1;
        for (role, who) in &personas {
            app.act_as(Some(who.clone()));
            let principal =
                claimed_principal(ContextClaim::Staff { organization_id: tenants.a.org, role: *role });
            let allowed = policy::grants(principal, permission)
                && policy::grants(principal, policy::Permission::SearchPatients);
            let mut request = app.client.request(route.method.clone(), app.url(&path));
            if route.method == Method::POST {
                request = request.header("X-CSRF-Token", app.csrf_token().await).form(&[("x", "")]);
            }
            let status = request.send().await.expect("request").status();
            if allowed && route.path == "/patients/{patient_id}/remove" {
                // Put the patient back for the next role.
                let mut su = app.database().superuser().await;
                sqlx::query("UPDATE patients SET deleted_at = NULL, deleted_by = NULL WHERE id = $1")
                    .bind(patient)
                    .execute(&mut su)
                    .await
                    .expect("restore");
            }
            if allowed {
                let ok = if names_other_object {
                    status == 404
                } else {
                    status.is_success()
                        || status.is_redirection()
                        || status == 422
                        || status == 409
                        || status == 400
                };
                assert!(ok, "{role:?} {} {}: {status}", route.method, route.path);
            } else {
                assert_eq!(status, 403, "{role:?} {} {}", route.method, route.path);
            }
        }
    }
    // Nothing written by the refused requests, and no reads of note bodies recorded for
    // the front desk (who cannot read them).
    let mut su = app.database().superuser().await;
    let desk_note_reads: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE role = 'admin_staff' AND resource_type = 'clinical_note' AND outcome = 'success'",
    )
    .fetch_one(&mut su)
    .await
    .expect("count");
    assert_eq!(desk_note_reads, 0);
}

// ---- cross-tenant probes with the other clinic's real ids ---------------------------------

#[tokio::test]
async fn every_workspace_route_given_the_other_clinics_ids_answers_404_and_changes_nothing() {
    let (app, tenants, _) = setup(1).await;
    let b = &tenants.b;
    let b_patient = b.patients[0];
    // Objects in B for every kind of id a route takes.
    let kind = in_clinic(&app, b.org, "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'B visit', 30) RETURNING id", &[&b.org.as_uuid()]).await.expect("kind");
    let hours = in_clinic(&app, b.org, "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends) VALUES ($1, $2, 1, '09:00', '17:00') RETURNING id", &[&b.org.as_uuid(), &b.provider.as_uuid()]).await.expect("hours");
    let appointment = in_clinic(&app, b.org, "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at) VALUES ($1, $2, $3, $4, now() + interval '3 days', now() + interval '3 days 30 minutes') RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid(), &b.provider.as_uuid(), &kind]).await.expect("appointment");
    let note = in_clinic(&app, b.org, "INSERT INTO clinical_notes (organization_id, patient_id, author_user_id, title, subjective) VALUES ($1, $2, $3, 'B note', 'B-SECRET') RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid(), &b.provider_user.as_uuid()]).await.expect("note");
    let contact = in_clinic(
        &app,
        b.org,
        "SELECT id FROM contact_methods WHERE patient_id = $1",
        &[&b_patient.as_uuid()],
    )
    .await
    .expect("contact");
    let member = in_clinic(
        &app,
        b.org,
        "SELECT id FROM care_team_members WHERE patient_id = $1",
        &[&b_patient.as_uuid()],
    )
    .await
    .expect("member");
    let parent = app.person("b.parent@home.example", "a long enough phrase here").await;
    let assignment = in_clinic(&app, b.org, "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, status) VALUES ($1, $2, $3, 'parent', 'active') RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid(), &parent.id.as_uuid()]).await.expect("grant");
    let membership =
        in_clinic(&app, b.org, "SELECT id FROM memberships WHERE user_id = $1", &[&b.desk_user.as_uuid()])
            .await
            .expect("membership");
    let task = in_clinic(
        &app,
        b.org,
        "INSERT INTO staff_tasks (organization_id, patient_id, kind, summary) VALUES ($1, $2, 'message_blocked', 'B-SECRET task') RETURNING id",
        &[&b.org.as_uuid(), &b_patient.as_uuid()],
    )
    .await
    .expect("task");
    let allergy = in_clinic(&app, b.org, "INSERT INTO allergies (organization_id, patient_id, substance, severity) VALUES ($1, $2, 'B-SECRET allergy', 'severe') RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid()]).await.expect("allergy");
    let problem = in_clinic(&app, b.org, "INSERT INTO problems (organization_id, patient_id, description) VALUES ($1, $2, 'B-SECRET problem') RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid()]).await.expect("problem");
    let medication = in_clinic(&app, b.org, "INSERT INTO medications (organization_id, patient_id, name) VALUES ($1, $2, 'B-SECRET drug') RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid()]).await.expect("medication");
    let vitals = in_clinic(&app, b.org, "INSERT INTO vitals (organization_id, patient_id, measured_at, pulse) VALUES ($1, $2, now(), 61) RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid()]).await.expect("vitals");
    let policy = in_clinic(&app, b.org, "INSERT INTO insurance_policies (organization_id, patient_id, priority, payer, member_id, subscriber_name, subscriber_relationship) VALUES ($1, $2, 'primary', 'B-SECRET payer', 'B1', 'B person', 'self') RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid()]).await.expect("policy");
    let emergency = in_clinic(&app, b.org, "INSERT INTO emergency_contacts (organization_id, patient_id, name, relationship, phone) VALUES ($1, $2, 'B-SECRET sister', 'sister', '+16172013311') RETURNING id", &[&b.org.as_uuid(), &b_patient.as_uuid()]).await.expect("emergency contact");
    let licence = in_clinic(&app, b.org, "INSERT INTO provider_licenses (organization_id, provider_id, state, license_number, expires_on) VALUES ($1, $2, 'MA', 'B-SECRET-1', current_date + 90) RETURNING id", &[&b.org.as_uuid(), &b.provider.as_uuid()]).await.expect("licence");
    let admin_task = in_clinic(&app, b.org, "INSERT INTO admin_tasks (organization_id, kind, provider_license_id, due_on, summary) VALUES ($1, 'licence_expiring', $2, current_date + 90, 'B-SECRET renewal') RETURNING id", &[&b.org.as_uuid(), &licence]).await.expect("admin task");
    let request = in_clinic(&app, b.org, "INSERT INTO member_approvals (organization_id, kind, requested_by, role, reason) VALUES ($1, 'own_role', $2, 'provider', 'B-SECRET reason') RETURNING id", &[&b.org.as_uuid(), &b.admin_user.as_uuid()]).await.expect("request");
    let location = in_clinic(&app, b.org, "INSERT INTO clinic_locations (organization_id, name, address_line1, city, region, postal_code) VALUES ($1, 'B-SECRET site', '9 Elm St', 'Providence', 'RI', '02903') RETURNING id", &[&b.org.as_uuid()]).await.expect("location");
    let document = in_clinic(&app, b.org, "INSERT INTO consent_documents (organization_id, kind, version, title, body, effective_at) VALUES ($1, 'privacy_notice', 'b1', 'B-SECRET notice', 'B text', now()) RETURNING id", &[&b.org.as_uuid()]).await.expect("document");
    let ulid = |u: Uuid| ulid::Ulid::from(u).to_string();
    let fill = |path: &str| {
        path.replace("{patient_id}", &b_patient.to_string())
            .replace("{contact_id}", &ulid(contact))
            .replace("{member_id}", &ulid(member))
            .replace("{assignment_id}", &ulid(assignment))
            .replace("{appointment_id}", &ulid(appointment))
            .replace("{note_id}", &ulid(note))
            .replace("{provider_id}", &b.provider.to_string())
            .replace("{hours_id}", &ulid(hours))
            .replace("{type_id}", &ulid(kind))
            .replace("{membership_id}", &ulid(membership))
            .replace("{task_id}", &ulid(task))
            .replace("{allergy_id}", &ulid(allergy))
            .replace("{problem_id}", &ulid(problem))
            .replace("{medication_id}", &ulid(medication))
            .replace("{vitals_id}", &ulid(vitals))
            .replace("{policy_id}", &ulid(policy))
            .replace("{emergency_contact_id}", &ulid(emergency))
            .replace("{licence_id}", &ulid(licence))
            .replace("{admin_task_id}", &ulid(admin_task))
            .replace("{request_id}", &ulid(request))
            .replace("{location_id}", &ulid(location))
            .replace("{consent_document_id}", &ulid(document))
    };
    let (provider_a, _) = member_of_a(&app, &tenants).await;
    let before = crate::csrf::fingerprint(&app).await;
    for who in [tenants.a.desk_context(), provider_a] {
        app.act_as(Some(who));
        for route in
            app.registry.iter().filter(|r| r.path.contains('{') && r.access.clinic_permission().is_some())
        {
            let path = fill(route.path);
            assert!(!path.contains('{'), "a parameter without a B object: {}", route.path);
            let mut request = app.client.request(route.method.clone(), app.url(&path));
            if route.method == Method::POST {
                request = request.header("X-CSRF-Token", app.csrf_token().await).form(&[
                    ("family_name", "Hijacked"),
                    ("given_name", "Hijacked"),
                    ("date_of_birth", "1990-01-01"),
                    ("legal_sex", "female"),
                    ("kind", "mobile"),
                    ("value", "6172013399"),
                    ("title", "Hijack"),
                    ("plan", "x"),
                    ("body", "x"),
                    ("relationship", "parent"),
                    ("role", "specialist"),
                    ("provider_id", &b.provider.to_string()),
                    ("date", "2030-01-07"),
                    ("time", "10:00"),
                    ("weekday", "2"),
                    ("starts", "09:00"),
                    ("ends", "10:00"),
                    ("reason", "resolved"),
                    ("substance", "Hijack"),
                    ("severity", "mild"),
                    ("description", "Hijack"),
                    ("name", "Hijack"),
                    ("pulse", "70"),
                    ("payer", "Hijack"),
                    ("member_id", "H1"),
                    ("subscriber_relationship", "self"),
                    ("priority", "secondary"),
                    ("phone", "6172013300"),
                ]);
            }
            let res = request.send().await.expect("request");
            let status = res.status();
            let body = res.text().await.expect("body");
            assert!(status == 404 || status == 403, "{} {} with B's ids: {status}", route.method, route.path);
            assert!(
                !body.contains(CANARY_B) && !body.contains("B-SECRET"),
                "{} {} leaked",
                route.method,
                route.path
            );
        }
    }
    let after = crate::csrf::fingerprint(&app).await;
    let changed: Vec<_> = crate::csrf::changed(&before, &after)
        .into_iter()
        .filter(|t| {
            !matches!(t.as_str(), "audit_events" | "tower_sessions" | "user_sessions" | "row_history")
        })
        .collect();
    assert!(changed.is_empty(), "tables changed by cross-tenant probes: {changed:?}");
    // And the probes are on record as denials, in A's log.
    let denials = count(&app, "SELECT count(*) FROM audit_events WHERE action = 'authz_denied'").await;
    assert!(denials >= 10, "{denials}");
}

async fn member_of_a(app: &TestApp, tenants: &TwoTenants) -> (Authenticated, UserId) {
    member(app, tenants.a.org, StaffRole::Provider).await
}

// ---- audit: one event per PHI request, naming the patient where there is one -------------

#[test]
fn every_workspace_phi_route_is_declared_as_such() {
    // GETs that show patient data read PHI; the set-up pages do not.
    for spec in crate::helpers::production_routes().specs() {
        let patient_scoped = spec.path.starts_with("/patients") || spec.path.starts_with("/appointments");
        if patient_scoped && spec.path != "/patients/new" {
            assert_ne!(spec.phi, Phi::None, "{} {} touches patient data", spec.method, spec.path);
        }
    }
}

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
