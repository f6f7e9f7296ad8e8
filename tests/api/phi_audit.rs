//! Audit coverage of the production routes that touch PHI (AUD-01): each has a case here
//! that calls it as the persona who uses it and finds an audit event naming the patient,
//! and a meta-test fails when a PHI route is declared without a case.

use lockdev::auth::policy::PlatformRole;
use lockdev::auth::session::ContextClaim;
use lockdev::clock::Clock as _;
use lockdev::db::ids::PatientId;
use lockdev::db::tenant::{TenantContext, begin_tenant};
use lockdev::web::{Access, Phi};
use reqwest::Method;

use crate::fixtures::{CANARY_A, signed_in, two_tenants};
use crate::helpers::{TestApp, spawn_app};
use crate::workspace::{in_clinic, setup, ulid};

/// Who calls a route and with which form.
enum Persona {
    Desk,
    Provider,
    Patient,
    /// The clinic's administrator.
    Admin,
    /// Platform support, signed in for real (break-glass moves their session).
    SuperAdmin,
    /// A platform auditor.
    Auditor,
}

/// Whether the route's event names the patient, or is about the clinic's lists (the
/// registry, the schedule) and names nobody.
#[derive(PartialEq)]
enum Names {
    ThePatient,
    Nobody,
}

/// A form, as (field, value) pairs; `{placeholders}` are filled in.
type Form = &'static [(&'static str, &'static str)];

use Names::{Nobody, ThePatient};
use Persona::{Desk, Provider};

/// The production PHI routes and how each is exercised, in an order that works
/// (a draft is edited before it is signed, the patient removed last).
const CASES: &[(&str, &str, Persona, Names, Form)] = &[
    ("GET", "/contexts", Persona::Patient, ThePatient, &[]),
    ("GET", "/portal", Persona::Patient, ThePatient, &[]),
    ("GET", "/portal/text-messages", Persona::Patient, ThePatient, &[]),
    ("POST", "/portal/text-messages", Persona::Patient, ThePatient, &[]),
    ("POST", "/portal/text-messages/withdraw", Persona::Patient, ThePatient, &[]),
    ("GET", "/patients/{patient_id}/access", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/portal-invitation",
        Desk,
        ThePatient,
        &[("email", "portal@home.example")],
    ),
    (
        "POST",
        "/patients/{patient_id}/proxies",
        Desk,
        ThePatient,
        &[("display_name", "A Parent"), ("email", "parent@home.example"), ("relationship", "parent")],
    ),
    (
        "POST",
        "/patients/{patient_id}/proxies/{assignment_id}",
        Desk,
        ThePatient,
        &[("relationship", "guardian"), ("clinical", "1")],
    ),
    ("POST", "/patients/{patient_id}/proxies/{assignment_id}/revoke", Desk, ThePatient, &[]),
    ("GET", "/patients", Desk, Nobody, &[]),
    ("POST", "/patients/search", Desk, Nobody, &[("q", "pat")]),
    (
        "POST",
        "/patients",
        Desk,
        Nobody,
        &[
            ("given_name", "New"),
            ("family_name", "Person"),
            ("date_of_birth", "2001-02-03"),
            ("legal_sex", "male"),
        ],
    ),
    ("GET", "/patients/{patient_id}", Desk, ThePatient, &[]),
    ("GET", "/patients/{patient_id}/edit", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}",
        Desk,
        ThePatient,
        &[
            ("given_name", "Edited"),
            ("family_name", "Person"),
            ("date_of_birth", "1980-01-01"),
            ("legal_sex", "female"),
        ],
    ),
    ("GET", "/patients/{patient_id}/contacts", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/contacts",
        Desk,
        ThePatient,
        &[("kind", "home"), ("value", "6172013355")],
    ),
    ("GET", "/patients/{patient_id}/contacts/{contact_id}/edit", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/contacts/{contact_id}",
        Desk,
        ThePatient,
        &[("kind", "mobile"), ("value", "6172013366"), ("safe_sms", "1")],
    ),
    ("POST", "/patients/{patient_id}/contacts/{contact_id}/verify", Desk, ThePatient, &[]),
    ("POST", "/patients/{patient_id}/contacts/{contact_id}/remove", Desk, ThePatient, &[]),
    ("POST", "/patients/{patient_id}/contacts/preferences", Desk, ThePatient, &[("appointments", "sms")]),
    ("GET", "/tasks", Desk, Nobody, &[]),
    ("GET", "/home/front-desk", Desk, Nobody, &[]),
    ("GET", "/home/clinician", Provider, Nobody, &[]),
    ("GET", "/home/rooming", Provider, Nobody, &[]),
    ("POST", "/tasks/{task_id}/done", Desk, ThePatient, &[]),
    ("GET", "/patients/{patient_id}/care-team", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/care-team",
        Provider,
        ThePatient,
        &[
            ("provider_id", "{second_provider_id}"),
            ("role", "specialist"),
            ("reason", "Referred for cardiology"),
        ],
    ),
    (
        "POST",
        "/patients/{patient_id}/care-team/{member_id}/remove",
        Provider,
        ThePatient,
        &[("reason", "Moved away")],
    ),
    ("GET", "/patients/{patient_id}/allergies", Provider, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/allergies/{allergy_id}/end",
        Provider,
        ThePatient,
        &[("reason", "entered_in_error")],
    ),
    ("POST", "/patients/{patient_id}/allergies/none-known", Provider, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/allergies",
        Provider,
        ThePatient,
        &[("substance", "Penicillin"), ("severity", "severe")],
    ),
    ("GET", "/patients/{patient_id}/problems", Provider, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/problems",
        Provider,
        ThePatient,
        &[("description", "Asthma"), ("code", "J45.909")],
    ),
    ("POST", "/patients/{patient_id}/problems/{problem_id}/resolve", Provider, ThePatient, &[]),
    ("POST", "/patients/{patient_id}/problems/{problem_id}/error", Provider, ThePatient, &[]),
    ("GET", "/patients/{patient_id}/medications", Provider, ThePatient, &[]),
    ("POST", "/patients/{patient_id}/medications", Provider, ThePatient, &[("name", "Albuterol")]),
    (
        "POST",
        "/patients/{patient_id}/medications/{medication_id}/stop",
        Provider,
        ThePatient,
        &[("reason", "completed")],
    ),
    ("GET", "/patients/{patient_id}/vitals", Provider, ThePatient, &[]),
    ("POST", "/patients/{patient_id}/vitals", Provider, ThePatient, &[("pulse", "72")]),
    ("POST", "/patients/{patient_id}/vitals/{vitals_id}/error", Provider, ThePatient, &[]),
    ("GET", "/patients/{patient_id}/insurance", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/insurance",
        Desk,
        ThePatient,
        &[
            ("priority", "primary"),
            ("payer", "Aetna"),
            ("member_id", "W123"),
            ("subscriber_relationship", "self"),
        ],
    ),
    (
        "POST",
        "/patients/{patient_id}/insurance/{policy_id}/end",
        Desk,
        ThePatient,
        &[("reason", "Coverage ended")],
    ),
    ("GET", "/patients/{patient_id}/emergency-contacts", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/emergency-contacts",
        Desk,
        ThePatient,
        &[("name", "Maria"), ("relationship", "Sister"), ("phone", "6172013322")],
    ),
    (
        "POST",
        "/patients/{patient_id}/emergency-contacts/{emergency_contact_id}/remove",
        Desk,
        ThePatient,
        &[],
    ),
    ("GET", "/patients/{patient_id}/appointments", Desk, ThePatient, &[]),
    ("GET", "/patients/{patient_id}/appointments/free-slots", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/appointments",
        Desk,
        ThePatient,
        &[
            ("provider_id", "{provider_id}"),
            ("type_id", "{type_id}"),
            ("date", "{tomorrow}"),
            ("time", "08:00"),
            ("outside_hours", "1"),
        ],
    ),
    ("GET", "/appointments/{appointment_id}", Desk, ThePatient, &[]),
    (
        "POST",
        "/appointments/{later_appointment_id}/reschedule",
        Desk,
        ThePatient,
        &[
            ("provider_id", "{provider_id}"),
            ("date", "{tomorrow}"),
            ("time", "15:00"),
            ("outside_hours", "1"),
        ],
    ),
    (
        "POST",
        "/appointments/{later_appointment_id}/cancel",
        Desk,
        ThePatient,
        &[("reason", "Moved away"), ("confirm", "1")],
    ),
    ("POST", "/appointments/{appointment_id}/check-in", Desk, ThePatient, &[]),
    ("POST", "/appointments/{appointment_id}/undo-check-in", Desk, ThePatient, &[]),
    ("POST", "/appointments/{appointment_id}/check-in", Desk, ThePatient, &[]),
    ("POST", "/appointments/{appointment_id}/complete", Desk, ThePatient, &[]),
    ("POST", "/appointments/{missed_appointment_id}/no-show", Desk, ThePatient, &[]),
    ("GET", "/schedule", Desk, Nobody, &[]),
    ("GET", "/schedule/live", Desk, Nobody, &[]),
    ("GET", "/schedule/providers/{provider_id}", Desk, Nobody, &[]),
    ("GET", "/patients/{patient_id}/notes", Provider, ThePatient, &[]),
    ("GET", "/patients/{patient_id}/notes/new", Provider, ThePatient, &[]),
    ("POST", "/patients/{patient_id}/notes", Provider, ThePatient, &[("title", "Visit"), ("plan", "Rest")]),
    ("GET", "/patients/{patient_id}/notes/{note_id}", Provider, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/notes/{note_id}",
        Provider,
        ThePatient,
        &[("title", "Visit"), ("plan", "Rest, fluids")],
    ),
    (
        "POST",
        "/patients/{patient_id}/notes/{note_id}/autosave",
        Provider,
        ThePatient,
        &[("title", "Visit"), ("plan", "Rest, fluids, review")],
    ),
    ("POST", "/patients/{patient_id}/notes/{note_id}/sign", Provider, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/notes/{note_id}/addenda",
        Provider,
        ThePatient,
        &[("body", "Called back: better.")],
    ),
    ("GET", "/patients/{patient_id}/merge", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/merge",
        Desk,
        ThePatient,
        &[("mrn", "MRN-DUP-1"), ("reason", "Registered twice"), ("confirm", "1")],
    ),
    ("GET", "/patients/{patient_id}/emergency-access", Provider, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/emergency-access",
        Provider,
        ThePatient,
        &[("purpose", "emergency_care"), ("reason", "Collapsed in the waiting room")],
    ),
    (
        "POST",
        "/platform/break-glass",
        Persona::SuperAdmin,
        ThePatient,
        &[
            ("clinic", "{org_id}"),
            ("mrn", "MRN-0"),
            ("purpose", "support_request"),
            ("reason", "Clinic ticket 99"),
        ],
    ),
    ("GET", "/settings/emergency-access", Persona::Admin, ThePatient, &[]),
    ("GET", "/compliance/break-glass", Persona::Auditor, Nobody, &[]),
    ("GET", "/compliance/audit", Persona::Auditor, Nobody, &[("clinic", "{org_id}"), ("mrn", "MRN-0")]),
    ("GET", "/compliance/disclosures", Persona::Auditor, Nobody, &[("clinic", "{org_id}"), ("mrn", "MRN-0")]),
    ("GET", "/patients/{patient_id}/remove", Desk, ThePatient, &[]),
    (
        "POST",
        "/patients/{patient_id}/remove",
        Desk,
        ThePatient,
        &[("reason", "Duplicate chart"), ("confirm", "1")],
    ),
    ("GET", "/patients/removed", Desk, Nobody, &[]),
    ("POST", "/patients/removed/{patient_id}/restore", Desk, ThePatient, &[]),
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
    let declared: Vec<(String, String)> = crate::helpers::production_routes()
        .specs()
        .iter()
        .filter(|r| r.phi != Phi::None)
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let cased: Vec<(String, String)> = CASES
        .iter()
        .map(|(m, p, _, _, _)| {
            let p = p
                .replace("{later_appointment_id}", "{appointment_id}")
                .replace("{missed_appointment_id}", "{appointment_id}");
            ((*m).to_owned(), p)
        })
        .collect();
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
    // Scheduling at a fixed noon in New York, so "today" is unambiguous.
    let noon = chrono::Utc::now().date_naive().and_hms_opt(17, 0, 0).expect("valid").and_utc()
        + chrono::Duration::days(1);
    app.clock.set(noon);
    let kind: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Visit', 30) RETURNING id",
    )
    .bind(org)
    .fetch_one(&mut *tx)
    .await
    .expect("kind");
    let appointment_at = |offset_minutes: i64| {
        let start = noon + chrono::Duration::minutes(offset_minutes);
        (start, start + chrono::Duration::minutes(30))
    };
    let mut appointments = Vec::new();
    for offset in [-10, -60, 24 * 60 + 120] {
        let (start, end) = appointment_at(offset);
        let id: uuid::Uuid = sqlx::query_scalar(
            "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(org)
        .bind(patient)
        .bind(tenants.a.provider)
        .bind(kind)
        .bind(start)
        .bind(end)
        .fetch_one(&mut *tx)
        .await
        .expect("appointment");
        appointments.push(lockdev::db::ids::AppointmentId::from_uuid(id));
    }
    let second_provider_user =
        app.person("second.provider@clinic.example", "a long enough phrase here").await;
    sqlx::query("INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'provider')")
        .bind(org)
        .bind(second_provider_user.id)
        .execute(&mut *tx)
        .await
        .expect("membership");
    let second_provider: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO providers (organization_id, user_id, npi, credentials) VALUES ($1, $2, '1245319599', 'DO') RETURNING id",
    )
    .bind(org)
    .bind(second_provider_user.id)
    .fetch_one(&mut *tx)
    .await
    .expect("provider");
    let contact: uuid::Uuid = sqlx::query_scalar("SELECT id FROM contact_methods WHERE patient_id = $1")
        .bind(patient)
        .fetch_one(&mut *tx)
        .await
        .expect("contact");
    let member: uuid::Uuid = sqlx::query_scalar("SELECT id FROM care_team_members WHERE patient_id = $1")
        .bind(patient)
        .fetch_one(&mut *tx)
        .await
        .expect("member");
    // A reminder the gate blocked, and the task it raised.
    let task: uuid::Uuid = sqlx::query_scalar(
        "WITH n AS (INSERT INTO notifications (organization_id, patient_id, purpose, template, status, block_reason)
                    VALUES ($1, $2, 'appointments', 'appointment_reminder', 'blocked', 'No safe way') RETURNING id)
         INSERT INTO staff_tasks (organization_id, patient_id, kind, notification_id, summary)
         SELECT $1, $2, 'message_blocked', n.id, 'Call the patient' FROM n RETURNING id",
    )
    .bind(org)
    .bind(patient)
    .fetch_one(&mut *tx)
    .await
    .expect("task");
    sqlx::query(
        "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
         VALUES ($1, 'MRN-DUP-1', 'Dup', 'Licate', '1990-01-01', 'female')",
    )
    .bind(org)
    .execute(&mut *tx)
    .await
    .expect("a duplicate to merge");
    let mut clinical = Vec::new();
    for sql in [
        "INSERT INTO allergies (organization_id, patient_id, substance, severity) VALUES ($1, $2, 'Latex', 'mild') RETURNING id",
        "INSERT INTO problems (organization_id, patient_id, description) VALUES ($1, $2, 'Back pain') RETURNING id",
        "INSERT INTO medications (organization_id, patient_id, name) VALUES ($1, $2, 'Ibuprofen') RETURNING id",
        "INSERT INTO vitals (organization_id, patient_id, measured_at, pulse) VALUES ($1, $2, now(), 64) RETURNING id",
        "INSERT INTO insurance_policies (organization_id, patient_id, priority, payer, member_id, subscriber_name, subscriber_relationship)
         VALUES ($1, $2, 'secondary', 'Old plan', 'X1', 'Someone', 'self') RETURNING id",
        "INSERT INTO emergency_contacts (organization_id, patient_id, name, relationship, phone)
         VALUES ($1, $2, 'Old friend', 'friend', '+16172013344') RETURNING id",
    ] {
        let id: uuid::Uuid =
            sqlx::query_scalar(sql).bind(org).bind(patient).fetch_one(&mut *tx).await.expect("clinical row");
        clinical.push(id);
    }
    tx.commit().await.expect("commit");
    let assignment = lockdev::db::ids::ProxyAssignmentId::from_uuid(assignment);
    let ulid = |u: uuid::Uuid| ulid::Ulid::from(u).to_string();
    let tomorrow = (noon + chrono::Duration::days(1)).date_naive().to_string();
    let mut note_id = String::new();
    // Platform staff: support signs in for real, an auditor is acted as.
    let support =
        app.with_totp(app.person("support@platform.example", "a long enough secret phrase").await).await;
    let auditor = app.person("auditor@platform.example", "a long enough secret phrase").await;
    let mut su = app.database().superuser().await;
    for (user, role) in [(support.id, "super_admin"), (auditor.id, "auditor")] {
        sqlx::query("INSERT INTO platform_roles (user_id, role) VALUES ($1, $2)")
            .bind(user)
            .bind(role)
            .execute(&mut su)
            .await
            .expect("platform role");
    }

    for (method, path, persona, names, form) in CASES {
        let mut who = match persona {
            Desk => tenants.a.desk_context(),
            Provider => tenants.a.provider_context(),
            Persona::Admin => tenants.a.admin_context(),
            Persona::Auditor => signed_in(auditor.id, ContextClaim::Platform { role: PlatformRole::Auditor }),
            Persona::SuperAdmin => {
                app.act_as(None);
                let browser = app.browser();
                assert_eq!(browser.sign_in_fully(&support, &app.clock).await, "/home");
                let fields: Vec<(&str, String)> =
                    form.iter().map(|(k, v)| (*k, v.replace("{org_id}", &org.to_string()))).collect();
                let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let before = events_for(&app, patient).await;
                let res = browser.post_form(path, &fields).await;
                assert_eq!(res.status(), 303, "{path}: {}", res.text().await.unwrap_or_default());
                assert!(events_for(&app, patient).await > before, "{method} {path}: no audit event");
                continue;
            }
            Persona::Patient => {
                signed_in(person.id, ContextClaim::Patient { organization_id: org, patient_id: patient })
            }
        };
        // Proved who they are just now (on the app's clock), as step-up routes ask.
        who.reauthenticated_at = app.clock.now();
        app.act_as(Some(who));
        let fill = |text: &str| {
            text.replace("{patient_id}", &patient.to_string())
                .replace("{assignment_id}", &assignment.to_string())
                .replace("{contact_id}", &ulid(contact))
                .replace("{member_id}", &ulid(member))
                .replace("{task_id}", &ulid(task))
                .replace("{appointment_id}", &appointments[0].to_string())
                .replace("{missed_appointment_id}", &appointments[1].to_string())
                .replace("{later_appointment_id}", &appointments[2].to_string())
                .replace("{provider_id}", &tenants.a.provider.to_string())
                .replace("{second_provider_id}", &ulid(second_provider))
                .replace("{type_id}", &ulid(kind))
                .replace("{tomorrow}", &tomorrow)
                .replace("{note_id}", &note_id)
                .replace("{allergy_id}", &ulid(clinical[0]))
                .replace("{problem_id}", &ulid(clinical[1]))
                .replace("{medication_id}", &ulid(clinical[2]))
                .replace("{vitals_id}", &ulid(clinical[3]))
                .replace("{policy_id}", &ulid(clinical[4]))
                .replace("{emergency_contact_id}", &ulid(clinical[5]))
                .replace("{org_id}", &org.to_string())
        };
        let url = fill(path);
        let form: Vec<(String, String)> = form.iter().map(|(k, v)| ((*k).to_owned(), fill(v))).collect();
        let before = if *names == Nobody { all_events(&app).await } else { events_for(&app, patient).await };
        let method: Method = method.parse().expect("method");
        let mut request = app.client.request(method.clone(), app.url(&url));
        if method == Method::GET && !form.is_empty() {
            request = request.query(&form);
        }
        if method != Method::GET {
            request = request.header("X-CSRF-Token", app.csrf_token().await).form(&form);
        }
        // Inviting a patient to the portal needs a chart without an account: the
        // patient's sign-in is set aside for that one request.
        let invitation = *path == "/patients/{patient_id}/portal-invitation";
        let set_login = async |login: Option<uuid::Uuid>| {
            let mut su = app.database().superuser().await;
            sqlx::query("UPDATE patients SET user_id = $2 WHERE id = $1")
                .bind(patient)
                .bind(login)
                .execute(&mut su)
                .await
                .expect("login");
        };
        if invitation {
            set_login(None).await;
        }
        let res = request.send().await.expect("request");
        if invitation {
            set_login(Some(person.id.as_uuid())).await;
        }
        let status = res.status();
        if *path == "/patients/{patient_id}/notes" && method == Method::POST {
            let location = res.headers()["location"].to_str().expect("ascii");
            note_id = location.rsplit('/').next().expect("id").to_owned();
        }
        assert!(
            status.is_success() || status.is_redirection(),
            "{method} {path}: {status} {}",
            res.text().await.unwrap_or_default()
        );
        let after = if *names == Nobody { all_events(&app).await } else { events_for(&app, patient).await };
        assert!(
            after > before,
            "{method} {path}: no audit event{}",
            if *names == Nobody { "" } else { " names the patient" }
        );
    }
}

async fn all_events(app: &TestApp) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action <> 'authz_denied'")
        .fetch_one(&mut su)
        .await
        .expect("count")
}

/// An error page that shows patient data (a 422 that re-renders the chart's header) is
/// recorded after the request's rollback; when that record cannot be written, the page is
/// not sent: an error page that shows nothing takes its place.
#[tokio::test]
async fn an_error_page_whose_audit_event_cannot_be_written_is_not_sent() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient = tenants.a.patients[0];
    app.act_as(Some(tenants.a.provider_context()));
    let incomplete = [("title", ""), ("plan", "")];
    let path = format!("/patients/{patient}/notes");
    let res = app.post_form(&path, &incomplete).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.expect("body");
    assert!(body.contains("ALPHA-CANARY-0"), "the form comes back framed by the chart: {body}");

    let mut su = app.database().superuser().await;
    sqlx::query("REVOKE INSERT ON audit_events FROM lockdev_runtime").execute(&mut su).await.expect("revoke");
    let res = app.post_form(&path, &incomplete).await;
    let status = res.status();
    let body = res.text().await.expect("body");
    assert!(status.is_server_error(), "{status}");
    assert!(!body.contains("ALPHA-CANARY"), "no patient data without its record: {body}");
}

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
