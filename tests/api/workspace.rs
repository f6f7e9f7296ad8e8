//! The staff workspace over real HTTP: registry and search, registration with duplicate
//! detection, demographics, contacts and their safety flags, care teams, proxies,
//! scheduling (the exclusion constraint, DST), clinical notes, the role matrix over every
//! chart route, cross-tenant probes with real ids of the other clinic, and failure
//! atomicity.

use chrono::{Duration, NaiveDate, TimeZone as _, Utc};
use chrono_tz::America::New_York;
use lockdev::auth::policy::{self, StaffRole};
use lockdev::db::ids::{OrganizationId, PatientId, ProviderId, UserId};
use lockdev::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};
use lockdev::web::authenticate::Authenticated;
use lockdev::web::routes::claimed_principal;
use lockdev::web::{Access, Phi};
use reqwest::{Method, StatusCode};
use sqlx::Row;
use uuid::Uuid;

use crate::fixtures::{CANARY_B, TwoTenants, signed_in, staff, two_tenants};
use crate::helpers::{TestApp, spawn_app};

/// Runs `sql` in `org`'s tenant context as the owner (fixtures), returning the first
/// column of the first row if any.
async fn in_clinic(app: &TestApp, org: OrganizationId, sql: &str, binds: &[&dyn ToBind]) -> Option<Uuid> {
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = bind.bind_to(query);
    }
    let row = query.fetch_optional(&mut *tx).await.expect(sql);
    tx.commit().await.expect("commit");
    row.and_then(|r| r.try_get::<Uuid, _>(0).ok())
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// A value a fixture query binds.
trait ToBind: Sync {
    fn bind_to<'q>(&'q self, query: Query<'q>) -> Query<'q>;
}

impl ToBind for Uuid {
    fn bind_to<'q>(&'q self, query: Query<'q>) -> Query<'q> {
        query.bind(*self)
    }
}

impl ToBind for &str {
    fn bind_to<'q>(&'q self, query: Query<'q>) -> Query<'q> {
        query.bind(*self)
    }
}

impl ToBind for i32 {
    fn bind_to<'q>(&'q self, query: Query<'q>) -> Query<'q> {
        query.bind(*self)
    }
}

/// A person with `role` at `org` (a provider gets a provider record).
async fn member(app: &TestApp, org: OrganizationId, role: StaffRole) -> (Authenticated, UserId) {
    let owner = app.database().owner_pool().await;
    let user = UserId::new();
    let mut tx = begin_system(&owner, &SystemContext::default()).await.expect("tx");
    sqlx::query("INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)")
        .bind(user)
        .bind(format!("{}.{}@staff.example", role.as_str(), user.to_string().to_lowercase()))
        .bind(format!("{} person", role.label()))
        .execute(&mut *tx)
        .await
        .expect("user");
    tx.commit().await.expect("commit");
    in_clinic(
        app,
        org,
        "INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)",
        &[&org.as_uuid(), &user.as_uuid(), &role.as_str()],
    )
    .await;
    if role == StaffRole::Provider {
        in_clinic(
            app,
            org,
            "INSERT INTO providers (organization_id, user_id, npi, credentials) VALUES ($1, $2, '1245319599', 'NP')",
            &[&org.as_uuid(), &user.as_uuid()],
        )
        .await;
    }
    (signed_in(user, staff(org, role)), user)
}

/// Two clinics; in A a visit kind (30 minutes) and the provider's hours Monday to Friday
/// 09:00-17:00 (New York).
async fn setup(patients: usize) -> (TestApp, TwoTenants, Uuid) {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, patients).await;
    let kind = in_clinic(
        &app,
        tenants.a.org,
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Follow-up', 30) RETURNING id",
        &[&tenants.a.org.as_uuid()],
    )
    .await
    .expect("kind");
    for weekday in 1..=5i32 {
        in_clinic(
            &app,
            tenants.a.org,
            "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends)
             VALUES ($1, $2, $3::int2, '09:00', '17:00')",
            &[&tenants.a.org.as_uuid(), &tenants.a.provider.as_uuid(), &weekday],
        )
        .await;
    }
    (app, tenants, kind)
}

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let res = app.post_form(path, fields).await;
    let status = res.status();
    (status, res.text().await.expect("body"))
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = app.get(path).await;
    let status = res.status();
    (status, res.text().await.expect("body"))
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar(sql).fetch_one(&mut su).await.expect(sql)
}

async fn register(app: &TestApp, given: &str, family: &str, born: &str, phone: &str) -> (StatusCode, String) {
    post(
        app,
        "/patients",
        &[
            ("given_name", given),
            ("family_name", family),
            ("date_of_birth", born),
            ("legal_sex", "female"),
            ("phone", phone),
            ("manages_own_care", "self"),
        ],
    )
    .await
}

// ---- registry and search ------------------------------------------------------------------

#[tokio::test]
async fn search_finds_by_name_fragment_date_of_birth_mrn_phone_and_email_inside_the_clinic_only() {
    let (app, tenants, _) = setup(0).await;
    app.act_as(Some(tenants.a.desk_context()));
    for (given, family, born, phone) in [
        ("Ana", "García", "1984-03-09", "(617) 201-3344"),
        ("Anders", "Garrison", "1990-07-01", ""),
        ("Bo", "Smith", "1984-03-09", ""),
    ] {
        let (status, body) = register(&app, given, family, born, phone).await;
        assert_eq!(status, 303, "{body}");
    }
    // The other clinic has a García too; it must never show.
    app.act_as(Some(tenants.b.desk_context()));
    assert_eq!(register(&app, "Ana", "García", "1984-03-09", "").await.0, 303);
    app.act_as(Some(tenants.a.desk_context()));

    let search = |q: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(app.url("/patients/search"))
                .header("HX-Request", "true")
                .header("X-CSRF-Token", app.csrf_token().await)
                .form(&[("q", q)])
                .send()
                .await
                .expect("search");
            assert_eq!(res.status(), 200);
            let body = res.text().await.expect("body");
            body.matches("class=\"result__name\"").count()
        }
    };
    assert_eq!(search("gar").await, 2, "prefix of two family names");
    assert_eq!(search("GARC").await, 1, "case-insensitive");
    assert_eq!(search("garcia").await, 1, "accents folded");
    assert_eq!(search("an gar").await, 2, "two words must both match");
    assert_eq!(search("ana garc").await, 1);
    assert_eq!(search("1984-03-09").await, 2, "date of birth");
    assert_eq!(search("03/09/1984").await, 2, "US date spelling");
    assert_eq!(search("gar 1984-03-09").await, 1, "name and date of birth");
    assert_eq!(search("617-201-3344").await, 1, "phone in any spelling");
    assert_eq!(search("MRN-000002").await, 1, "exact MRN");
    assert_eq!(search("zzz").await, 0);
    // INJ-01: input is data, never SQL or a pattern.
    assert_eq!(search("%").await, 0, "a wildcard matches nothing");
    assert_eq!(search("'; DROP TABLE patients; --").await, 0);
    assert_eq!(search("").await, 3, "empty lists everyone of this clinic");
    assert_eq!(count(&app, "SELECT count(*) FROM patients").await, 4, "tables intact");

    // Terms travel in the body: the audit event records how the box was read and the
    // count, never the terms.
    let mut su = app.database().superuser().await;
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details::text FROM audit_events WHERE resource_type = 'patient_search' ORDER BY occurred_at",
    )
    .fetch_all(&mut su)
    .await
    .expect("events");
    assert!(details.len() >= 14, "{}", details.len());
    assert!(details.iter().all(|d| !d.to_lowercase().contains("gar") && !d.contains("1984")), "{details:?}");
}

#[tokio::test]
async fn search_results_page_with_a_keyset_and_keep_their_order() {
    let (app, tenants, _) = setup(0).await;
    app.act_as(Some(tenants.a.desk_context()));
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(tenants.a.org)).await.expect("tx");
    for i in 0..60 {
        sqlx::query(
            "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
             VALUES ($1, $2, $3, 'Keyset', '2000-01-01', 'unknown')",
        )
        .bind(tenants.a.org)
        .bind(format!("K-{i}"))
        .bind(format!("Given{i:02}"))
        .execute(&mut *tx)
        .await
        .expect("patient");
    }
    tx.commit().await.expect("commit");
    let mut seen = Vec::new();
    let mut after = String::new();
    for _ in 0..5 {
        let (status, body) = post(&app, "/patients/search", &[("q", "keyset"), ("after", &after)]).await;
        assert_eq!(status, 200);
        let names: Vec<String> = body
            .split("class=\"result__name\"")
            .skip(1)
            .map(|s| s.split('>').nth(1).unwrap_or("").split('<').next().unwrap_or("").to_owned())
            .collect();
        seen.extend(names);
        match body.split("name=\"after\" value=\"").nth(1) {
            Some(rest) => after = rest.split('"').next().expect("value").to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 60, "every patient exactly once across pages");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "pages continue in name order");
}

// ---- registration -------------------------------------------------------------------------

#[tokio::test]
async fn registering_a_possible_duplicate_shows_the_candidates_first() {
    let (app, tenants, _) = setup(0).await;
    app.act_as(Some(tenants.a.desk_context()));
    assert_eq!(register(&app, "Ana", "Garcia", "1984-03-09", "6172013344").await.0, 303);
    // Same name and birth date (other letter case).
    let (status, body) = register(&app, "ana", "GARCIA", "1984-03-09", "").await;
    assert_eq!(status, 409);
    assert!(body.contains("same name and date of birth"), "{body}");
    assert!(body.contains("name=\"confirm_new\""));
    assert_eq!(count(&app, "SELECT count(*) FROM patients").await, 1, "nothing created yet");
    // Same phone, another person.
    let (status, body) = register(&app, "Luis", "Garcia", "2010-01-01", "+1 617 201 3344").await;
    assert_eq!(status, 409);
    assert!(body.contains("same phone number"), "{body}");
    // Seen, and created anyway.
    let (status, _) = post(
        &app,
        "/patients",
        &[
            ("given_name", "Luis"),
            ("family_name", "Garcia"),
            ("date_of_birth", "2010-01-01"),
            ("legal_sex", "male"),
            ("manages_own_care", "dependent"),
            ("confirm_new", "1"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        count(&app, "SELECT count(*) FROM patients WHERE NOT is_self_managed").await,
        1,
        "a dependent"
    );
    // The other clinic's identical patient is not a duplicate here.
    app.act_as(Some(tenants.b.desk_context()));
    assert_eq!(register(&app, "Ana", "Garcia", "1984-03-09", "6172013344").await.0, 303);
}

#[tokio::test]
async fn bad_registration_input_comes_back_with_messages_and_nothing_is_saved() {
    let (app, tenants, _) = setup(0).await;
    app.act_as(Some(tenants.a.desk_context()));
    let (status, body) = post(
        &app,
        "/patients",
        &[
            ("given_name", "Keep me"),
            ("family_name", ""),
            ("date_of_birth", "2999-01-01"),
            ("legal_sex", "female"),
            ("phone", "12345"),
            ("email", "not-an-address"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("value=\"Keep me\""), "the input is kept");
    assert!(body.contains("Enter the last name."));
    assert!(body.contains("The date of birth cannot be in the future."));
    assert!(body.contains("That number is too short."));
    assert!(body.contains("Enter an e-mail address"));
    assert_eq!(count(&app, "SELECT count(*) FROM patients").await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM contact_methods").await, 0);
}

#[tokio::test]
async fn editing_ignores_fields_a_form_does_not_own_and_removal_is_soft() {
    // AZ-04: MRN, organization and login are not editable through demographics.
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    app.act_as(Some(tenants.a.desk_context()));
    let (status, body) = post(
        &app,
        &format!("/patients/{patient}"),
        &[
            ("given_name", "Renamed"),
            ("family_name", "Person"),
            ("date_of_birth", "1980-01-01"),
            ("legal_sex", "female"),
            ("mrn", "HIJACK"),
            ("organization_id", &tenants.b.org.to_string()),
            ("user_id", &tenants.a.desk_user.to_string()),
            ("confidential_communication", "1"),
            ("confidential_note", "Mobile only"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Confidential communication requested"), "the banner shows at once");
    let mut su = app.database().superuser().await;
    let row = sqlx::query("SELECT mrn, organization_id, user_id, given_name FROM patients WHERE id = $1")
        .bind(patient)
        .fetch_one(&mut su)
        .await
        .expect("row");
    assert_eq!(row.get::<String, _>("mrn"), "MRN-0");
    assert_eq!(row.get::<Uuid, _>("organization_id"), tenants.a.org.as_uuid());
    assert_eq!(row.get::<Option<Uuid>, _>("user_id"), None);
    assert_eq!(row.get::<String, _>("given_name"), "Renamed");

    let (status, _) = post(&app, &format!("/patients/{patient}/remove"), &[]).await;
    assert_eq!(status, 303);
    assert_eq!(count(&app, "SELECT count(*) FROM patients WHERE deleted_at IS NOT NULL").await, 1, "kept");
    assert_eq!(get(&app, &format!("/patients/{patient}")).await.0, 404, "gone from the registry");
    let (_, body) = post(&app, "/patients/search", &[("q", "renamed")]).await;
    assert!(!body.contains("result__name"), "not found by name any more");
}

// ---- contacts -----------------------------------------------------------------------------

#[tokio::test]
async fn contacts_are_normalized_flagged_verified_and_removed_softly() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    let path = format!("/patients/{patient}/contacts");
    app.act_as(Some(tenants.a.desk_context()));
    let (status, body) = post(&app, &path, &[("kind", "home"), ("value", "555-12")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("too short"), "{body}");
    assert!(body.contains("value=\"555-12\""), "the typed value stays");
    // A home number cannot be texted: the SMS flag is dropped, voicemail kept.
    let (status, body) = post(
        &app,
        &path,
        &[("kind", "home"), ("value", "(617) 201-3344"), ("safe_voicemail", "1"), ("safe_sms", "1")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("(617) 201-3344"));
    let (status, body) = post(&app, &path, &[("kind", "mobile"), ("value", "617.201.3344")]).await;
    assert_eq!(status, 422, "the same number twice");
    assert!(body.contains("already on file"));
    let mut su = app.database().superuser().await;
    let row = sqlx::query(
        "SELECT id, value, is_safe_for_voicemail, is_safe_for_sms FROM contact_methods WHERE patient_id = $1 AND kind = 'home'",
    )
    .bind(patient)
    .fetch_one(&mut su)
    .await
    .expect("contact");
    assert_eq!(row.get::<String, _>("value"), "+16172013344");
    assert!(row.get::<bool, _>("is_safe_for_voicemail"));
    assert!(!row.get::<bool, _>("is_safe_for_sms"));
    let contact: Uuid = row.get("id");
    let contact = lockdev::db::ids::ContactMethodId::from_uuid(contact);

    // Clinical staff may edit contacts but not decide where messages go (AZ-04): the
    // flags they send are ignored, the stored ones stay.
    let (nurse, _) = member(&app, tenants.a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    let (status, body) = post(
        &app,
        &format!("{path}/{contact}"),
        &[("kind", "home"), ("value", "6172013344"), ("label", "Landline")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let safe: bool = sqlx::query_scalar("SELECT is_safe_for_voicemail FROM contact_methods WHERE id = $1")
        .bind(contact)
        .fetch_one(&mut su)
        .await
        .expect("flag");
    assert!(safe, "a role without EditContactSafety cannot clear a flag");

    app.act_as(Some(tenants.a.desk_context()));
    assert_eq!(post(&app, &format!("{path}/{contact}/verify"), &[]).await.0, 200);
    let verified: bool = sqlx::query_scalar(
        "SELECT verified_at IS NOT NULL AND verified_by IS NOT NULL FROM contact_methods WHERE id = $1",
    )
    .bind(contact)
    .fetch_one(&mut su)
    .await
    .expect("verified");
    assert!(verified);
    // A changed value is no longer verified.
    assert_eq!(
        post(&app, &format!("{path}/{contact}"), &[("kind", "home"), ("value", "617-201-3345")]).await.0,
        200
    );
    let verified: bool =
        sqlx::query_scalar("SELECT verified_at IS NOT NULL FROM contact_methods WHERE id = $1")
            .bind(contact)
            .fetch_one(&mut su)
            .await
            .expect("verified");
    assert!(!verified);
    assert_eq!(post(&app, &format!("{path}/{contact}/remove"), &[]).await.0, 200);
    let deleted: bool =
        sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM contact_methods WHERE id = $1")
            .bind(contact)
            .fetch_one(&mut su)
            .await
            .expect("row kept");
    assert!(deleted);
    assert_eq!(get(&app, &format!("{path}/{contact}/edit")).await.0, 404);
}

// ---- care team and clinical notes ---------------------------------------------------------

async fn set_chart_access(app: &TestApp, org: OrganizationId, setting: &str) {
    let owner = app.database().owner_pool().await;
    let mut tx = begin_system(&owner, &SystemContext::default()).await.expect("tx");
    sqlx::query(
        "UPDATE organizations SET settings = jsonb_build_object('chart_access', $2::text) WHERE id = $1",
    )
    .bind(org)
    .bind(setting)
    .execute(&mut *tx)
    .await
    .expect("setting");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn notes_are_drafted_signed_final_and_amended_by_addenda() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    app.act_as(Some(tenants.a.provider_context()));
    let (status, body) =
        post(&app, &format!("/patients/{patient}/notes"), &[("title", ""), ("plan", "")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("Give the note a title"));
    let res = app
        .post_form(
            &format!("/patients/{patient}/notes"),
            &[("title", "Visit"), ("subjective", "Cough for a week"), ("plan", "Fluids")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().expect("ascii").to_owned();
    let note = location.rsplit('/').next().expect("id").to_owned();
    // The author continues the draft, then signs it.
    assert_eq!(
        post(&app, &location, &[("title", "Visit"), ("subjective", "Cough, 8 days"), ("plan", "Fluids")])
            .await
            .0,
        200
    );
    let (status, body) = post(&app, &format!("{location}/sign"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Cough, 8 days"));
    // Signed is final: through the app...
    let (status, _) = post(&app, &location, &[("title", "Changed"), ("plan", "x")]).await;
    assert_eq!(status, 400);
    // ...and in the database, whatever asks.
    let runtime = app.database().runtime_pool().await;
    let mut tx = begin_tenant(&runtime, &TenantContext::system(tenants.a.org)).await.expect("tx");
    let refused = sqlx::query("UPDATE clinical_notes SET plan = 'tampered' WHERE id = $1::uuid")
        .bind(Uuid::from(note.parse::<lockdev::db::ids::ClinicalNoteId>().expect("id")))
        .execute(&mut *tx)
        .await;
    assert!(refused.is_err(), "a signed note cannot be updated");
    drop(tx);
    let (status, body) = post(&app, &format!("{location}/addenda"), &[("body", "Chest X-ray normal.")]).await;
    assert_eq!(status, 200);
    assert!(body.contains("Chest X-ray normal."));
    assert_eq!(count(&app, "SELECT count(*) FROM clinical_note_addenda").await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM clinical_notes WHERE plan = 'Fluids'").await, 1);

    // The front desk sees that the note exists, never its text.
    app.act_as(Some(tenants.a.desk_context()));
    let (status, body) = get(&app, &format!("/patients/{patient}/notes")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Visit"));
    assert!(!body.contains("Cough"));
    assert_eq!(get(&app, &location).await.0, 403);
}

#[tokio::test]
async fn sensitive_notes_and_care_team_only_charts_hide_from_everyone_outside_the_team() {
    // AZ-01 (care-team restriction) and AZ-05 (sensitive categories).
    let (app, tenants, _) = setup(2).await;
    let (on_team, other) = (tenants.a.patients[0], tenants.a.patients[1]);
    app.act_as(Some(tenants.a.provider_context()));
    let res = app
        .post_form(
            &format!("/patients/{on_team}/notes"),
            &[
                ("title", "Counselling"),
                ("subjective", "SECRET-MOOD"),
                ("sensitive_category", "behavioral_health"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let sensitive = res.headers()["location"].to_str().expect("ascii").to_owned();
    assert_eq!(post(&app, &format!("{sensitive}/sign"), &[]).await.0, 200);
    let res = app
        .post_form(
            &format!("/patients/{other}/notes"),
            &[("title", "Routine"), ("subjective", "ROUTINE-TEXT")],
        )
        .await;
    let routine = res.headers()["location"].to_str().expect("ascii").to_owned();

    // A provider outside the care team and a nurse: the sensitive note does not exist
    // for them (not in the list, 404 when addressed).
    let (colleague, _) = member(&app, tenants.a.org, StaffRole::Provider).await;
    let (nurse, _) = member(&app, tenants.a.org, StaffRole::ClinicalStaff).await;
    for who in [colleague.clone(), nurse, tenants.a.desk_context()] {
        app.act_as(Some(who.clone()));
        let (status, body) = get(&app, &format!("/patients/{on_team}/notes")).await;
        assert_eq!(status, 200);
        assert!(
            !body.contains("Counselling") && !body.contains("SECRET-MOOD"),
            "{who:?} sees the sensitive note"
        );
        let status = get(&app, &sensitive).await.0;
        assert!(status == 404 || status == 403, "{who:?}: {status}");
        // Search on a hidden value returns nothing.
        let (_, body) = post(&app, "/patients/search", &[("q", "SECRET-MOOD")]).await;
        assert!(!body.contains("result__name"));
    }
    // The colleague reads ordinary notes while the clinic shows all charts...
    app.act_as(Some(colleague.clone()));
    assert_eq!(get(&app, &routine).await.0, 200);
    // ...and not once the clinic restricts charts to care teams (the patient is on no
    // team of theirs): 404, audited as a denial.
    set_chart_access(&app, tenants.a.org, "care_team_only").await;
    let before = count(&app, "SELECT count(*) FROM audit_events WHERE action = 'authz_denied'").await;
    assert_eq!(get(&app, &routine).await.0, 404);
    let (status, body) = get(&app, &format!("/patients/{other}/notes")).await;
    assert_eq!(status, 404, "{body}");
    let after = count(&app, "SELECT count(*) FROM audit_events WHERE action = 'authz_denied'").await;
    assert!(after >= before + 2);
    // Demographics stay available to them (scheduling, registration).
    assert_eq!(get(&app, &format!("/patients/{other}")).await.0, 200);
    // Added to the care team, the colleague reads the chart on the very next request.
    app.act_as(Some(tenants.a.desk_context()));
    let colleague_provider = in_clinic(
        &app,
        tenants.a.org,
        "SELECT id FROM providers WHERE user_id = $1",
        &[&colleague.user_id.as_uuid()],
    )
    .await
    .expect("provider");
    let (status, body) = post(
        &app,
        &format!("/patients/{other}/care-team"),
        &[("provider_id", &ProviderId::from_uuid(colleague_provider).to_string()), ("role", "primary")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // One primary at a time.
    let (status, body) = post(
        &app,
        &format!("/patients/{other}/care-team"),
        &[("provider_id", &tenants.a.provider.to_string()), ("role", "primary")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("already has a primary provider"));
    app.act_as(Some(colleague));
    assert_eq!(get(&app, &routine).await.0, 200);
    // The care team's provider reads the sensitive note.
    app.act_as(Some(tenants.a.provider_context()));
    let (status, body) = get(&app, &sensitive).await;
    assert_eq!(status, 200);
    assert!(body.contains("SECRET-MOOD"));
}

// ---- proxies ------------------------------------------------------------------------------

#[tokio::test]
async fn a_proxys_scopes_change_on_their_very_next_request() {
    // AZ-06 / AZ-07 through the chart's proxy section.
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    let parent = app.person("parent.scope@home.example", "a long enough phrase here").await;
    let assignment = in_clinic(
        &app,
        tenants.a.org,
        "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, status,
                                                can_schedule, starts_at)
         VALUES ($1, $2, $3, 'parent', 'active', true, now() - interval '1 day') RETURNING id",
        &[&tenants.a.org.as_uuid(), &patient.as_uuid(), &parent.id.as_uuid()],
    )
    .await
    .expect("grant");
    let proxy = signed_in(
        parent.id,
        lockdev::auth::session::ContextClaim::Proxy { organization_id: tenants.a.org, patient_id: patient },
    );
    app.act_as(Some(proxy.clone()));
    assert_eq!(get(&app, "/portal").await.0, 200);

    app.act_as(Some(tenants.a.desk_context()));
    let (status, body) = get(&app, &format!("/patients/{patient}/access")).await;
    assert_eq!(status, 200);
    assert!(body.contains("book and change appointments"));
    let (status, body) = post(
        &app,
        &format!(
            "/patients/{patient}/proxies/{}",
            lockdev::db::ids::ProxyAssignmentId::from_uuid(assignment)
        ),
        &[("relationship", "guardian"), ("clinical", "1"), ("proof_note", "Court order 12-345")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut su = app.database().superuser().await;
    let row = sqlx::query(
        "SELECT relationship, can_view_clinical, can_schedule, proof_note FROM patient_proxy_assignments WHERE id = $1",
    )
    .bind(assignment)
    .fetch_one(&mut su)
    .await
    .expect("grant");
    assert_eq!(row.get::<String, _>("relationship"), "guardian");
    assert!(row.get::<bool, _>("can_view_clinical"));
    assert!(!row.get::<bool, _>("can_schedule"));
    assert_eq!(row.get::<Option<String>, _>("proof_note").as_deref(), Some("Court order 12-345"));

    let (status, _) = post(
        &app,
        &format!(
            "/patients/{patient}/proxies/{}/revoke",
            lockdev::db::ids::ProxyAssignmentId::from_uuid(assignment)
        ),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    app.act_as(Some(proxy));
    assert_eq!(get(&app, "/portal").await.0, 403, "revoked: refused on the next request");
}

// ---- scheduling ---------------------------------------------------------------------------

/// The next Monday after today in New York, at least two days ahead.
fn next_monday() -> NaiveDate {
    let mut day = Utc::now().with_timezone(&New_York).date_naive() + Duration::days(2);
    while day.format("%u").to_string() != "1" {
        day += Duration::days(1);
    }
    day
}

async fn book(
    app: &TestApp,
    patient: PatientId,
    provider: &str,
    kind: Uuid,
    date: &str,
    time: &str,
) -> (StatusCode, String) {
    post(
        app,
        &format!("/patients/{patient}/appointments"),
        &[
            ("provider_id", provider),
            ("type_id", &ulid::Ulid::from(kind).to_string()),
            ("date", date),
            ("time", time),
            ("reason", "Checkup"),
        ],
    )
    .await
}

#[tokio::test]
async fn booking_respects_working_hours_and_the_database_refuses_double_booking() {
    let (app, tenants, kind) = setup(2).await;
    let (p1, p2) = (tenants.a.patients[0], tenants.a.patients[1]);
    let provider = tenants.a.provider.to_string();
    app.act_as(Some(tenants.a.desk_context()));
    let monday = next_monday().to_string();
    let (status, body) = book(&app, p1, &provider, kind, &monday, "09:00").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Booked for"), "{body}");
    // Overlapping (09:15-09:45 against 09:00-09:30) for another patient: refused.
    let (status, body) = book(&app, p2, &provider, kind, &monday, "09:15").await;
    assert_eq!(status, 409);
    assert!(body.contains("already has an appointment"), "{body}");
    assert!(body.contains("value=\"09:15\""), "the form keeps the input");
    // Back to back is fine.
    assert_eq!(book(&app, p2, &provider, kind, &monday, "09:30").await.0, 200);
    // Outside hours: refused unless overridden.
    let (status, body) = book(&app, p2, &provider, kind, &monday, "16:45").await;
    assert_eq!(status, 422);
    assert!(body.contains("outside the provider"), "{body}");
    let (status, _) = post(
        &app,
        &format!("/patients/{p2}/appointments"),
        &[
            ("provider_id", &provider),
            ("type_id", &ulid::Ulid::from(kind).to_string()),
            ("date", &monday),
            ("time", "18:00"),
            ("outside_hours", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    // The past, and unreadable times.
    assert_eq!(book(&app, p2, &provider, kind, "2020-01-06", "10:00").await.0, 422);
    let (status, body) = book(&app, p2, &provider, kind, &monday, "25:99").await;
    assert_eq!(status, 422);
    assert!(body.contains("HH:MM"));
    assert_eq!(count(&app, "SELECT count(*) FROM appointments").await, 3);

    // The constraint holds for any writer, not only the form.
    let runtime = app.database().runtime_pool().await;
    let mut tx = begin_tenant(&runtime, &TenantContext::system(tenants.a.org)).await.expect("tx");
    let error = sqlx::query(
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
         SELECT organization_id, $1, provider_id, appointment_type_id, starts_at + interval '10 minutes', ends_at
           FROM appointments ORDER BY starts_at LIMIT 1",
    )
    .bind(p2)
    .execute(&mut *tx)
    .await
    .expect_err("overlap");
    assert_eq!(error.as_database_error().and_then(|e| e.code()).as_deref(), Some("23P01"));
}

#[tokio::test]
async fn nine_oclock_is_nine_oclock_on_both_sides_of_a_dst_change() {
    let (app, tenants, kind) = setup(2).await;
    let provider = tenants.a.provider.to_string();
    app.act_as(Some(tenants.a.desk_context()));
    // US clocks spring forward on 2027-03-14: Friday the 12th is EST, Monday the 15th EDT.
    assert_eq!(book(&app, tenants.a.patients[0], &provider, kind, "2027-03-12", "09:00").await.0, 200);
    assert_eq!(book(&app, tenants.a.patients[1], &provider, kind, "2027-03-15", "09:00").await.0, 200);
    let mut su = app.database().superuser().await;
    let starts: Vec<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT starts_at FROM appointments ORDER BY starts_at")
            .fetch_all(&mut su)
            .await
            .expect("starts");
    assert_eq!(starts[0], Utc.with_ymd_and_hms(2027, 3, 12, 14, 0, 0).unwrap());
    assert_eq!(starts[1], Utc.with_ymd_and_hms(2027, 3, 15, 13, 0, 0).unwrap());
    // Both show as 09:00 on the clinic's clock, with the zone that applied.
    let (_, body) = get(&app, "/schedule?date=2027-03-12").await;
    assert!(body.contains("09:00\u{2013}09:30 EST"), "{body}");
    let (_, body) = get(&app, "/schedule?date=2027-03-15").await;
    assert!(body.contains("09:00\u{2013}09:30 EDT"));
    // A time the clocks skip cannot be booked (with override, so hours do not decide).
    let (status, body) = post(
        &app,
        &format!("/patients/{}/appointments", tenants.a.patients[0]),
        &[
            ("provider_id", &provider),
            ("type_id", &ulid::Ulid::from(kind).to_string()),
            ("date", "2027-03-14"),
            ("time", "02:30"),
            ("outside_hours", "1"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("does not exist on that day"));
    // A viewer in another timezone sees the same instant on their own clock.
    let owner = app.database().owner_pool().await;
    let mut tx = begin_system(&owner, &SystemContext::default()).await.expect("tx");
    sqlx::query("UPDATE users SET timezone = 'America/Los_Angeles' WHERE id = $1")
        .bind(tenants.a.desk_user)
        .execute(&mut *tx)
        .await
        .expect("timezone");
    tx.commit().await.expect("commit");
    let (_, body) = get(&app, "/schedule?date=2027-03-12").await;
    assert!(body.contains("06:00\u{2013}06:30 PST"), "{body}");
}

#[tokio::test]
async fn appointments_are_rescheduled_cancelled_checked_in_and_marked_no_show() {
    let (app, tenants, kind) = setup(2).await;
    let provider = tenants.a.provider.to_string();
    app.act_as(Some(tenants.a.desk_context()));
    let monday = next_monday().to_string();
    book(&app, tenants.a.patients[0], &provider, kind, &monday, "10:00").await;
    book(&app, tenants.a.patients[1], &provider, kind, &monday, "11:00").await;
    let mut su = app.database().superuser().await;
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM appointments ORDER BY starts_at")
        .fetch_all(&mut su)
        .await
        .expect("ids");
    let (first, second) = (
        lockdev::db::ids::AppointmentId::from_uuid(ids[0]),
        lockdev::db::ids::AppointmentId::from_uuid(ids[1]),
    );
    // Moving onto the other appointment is refused; to a free time it moves.
    let (status, body) = post(
        &app,
        &format!("/appointments/{first}/reschedule"),
        &[("provider_id", &provider), ("date", &monday), ("time", "11:15")],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let res = app
        .post_form(
            &format!("/appointments/{first}/reschedule"),
            &[("provider_id", &provider), ("date", &monday), ("time", "13:00"), ("return_to", "/schedule")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/schedule");
    // An open redirect is not possible through return_to.
    let res = app
        .post_form(
            &format!("/appointments/{second}/cancel"),
            &[("reason", "Feeling better"), ("return_to", "https://evil.example/")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/appointments/{second}").as_str());
    let row = sqlx::query("SELECT status, cancel_reason, cancelled_by FROM appointments WHERE id = $1")
        .bind(second)
        .fetch_one(&mut su)
        .await
        .expect("row");
    assert_eq!(row.get::<String, _>("status"), "cancelled");
    assert_eq!(row.get::<Option<String>, _>("cancel_reason").as_deref(), Some("Feeling better"));
    // The cancelled slot is free again.
    assert_eq!(book(&app, tenants.a.patients[1], &provider, kind, &monday, "11:00").await.0, 200);
    // A no-show before the start is refused; check-in works from booked only.
    assert_eq!(post(&app, &format!("/appointments/{first}/no-show"), &[]).await.0, 400);
    assert_eq!(post(&app, &format!("/appointments/{second}/check-in"), &[]).await.0, 400, "cancelled");
    // The clock moves to the appointment's day and past its start.
    let start: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM appointments WHERE id = $1")
        .bind(first)
        .fetch_one(&mut su)
        .await
        .expect("start");
    app.clock.set(start + Duration::minutes(5));
    assert_eq!(post(&app, &format!("/appointments/{first}/check-in"), &[]).await.0, 303);
    assert_eq!(post(&app, &format!("/appointments/{first}/complete"), &[]).await.0, 303);
    let status: String = sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1")
        .bind(first)
        .fetch_one(&mut su)
        .await
        .expect("status");
    assert_eq!(status, "completed");
    // Week and day views list them.
    let (status, body) = get(&app, &format!("/schedule/providers/{provider}?week={monday}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Completed"));
}

#[tokio::test]
async fn a_failure_after_the_first_write_leaves_nothing_behind() {
    // FLT-05: the appointment is inserted, then its audit event cannot be; the request
    // fails and the appointment is gone with it.
    let (app, tenants, kind) = setup(1).await;
    app.act_as(Some(tenants.a.desk_context()));
    let mut su = app.database().superuser().await;
    sqlx::query(
        "CREATE FUNCTION fail_appointment_audit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.resource_type = 'appointment' THEN RAISE EXCEPTION 'injected failure'; END IF;
           RETURN NEW;
         END $$",
    )
    .execute(&mut su)
    .await
    .expect("function");
    sqlx::query("CREATE TRIGGER fail_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION fail_appointment_audit()")
        .execute(&mut su)
        .await
        .expect("trigger");
    let monday = next_monday().to_string();
    let (status, body) =
        book(&app, tenants.a.patients[0], &tenants.a.provider.to_string(), kind, &monday, "10:00").await;
    assert_eq!(status, 500);
    assert!(!body.contains("injected failure"), "no SQL detail in the page");
    assert_eq!(count(&app, "SELECT count(*) FROM appointments").await, 0, "nothing committed");
}

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
            let principal = claimed_principal(lockdev::auth::session::ContextClaim::Staff {
                organization_id: tenants.a.org,
                role: *role,
            });
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

// ---- a statement that runs too long ------------------------------------------------------

async fn slow_search(tx: lockdev::web::TenantTx) -> lockdev::web::AppResult<String> {
    let mut db = tx.conn().await?;
    sqlx::query("SELECT pg_sleep(2)").execute(&mut *db).await?;
    Ok("finished".into())
}

#[tokio::test]
async fn a_statement_past_the_time_limit_is_cancelled_with_a_generic_error() {
    // FLT-04: every runtime connection carries statement_timeout (and no JIT).
    let app = spawn_app()
        .env("LOCKDEV_DB_STATEMENT_TIMEOUT_MS", "200")
        .routes(lockdev::web::Routes::new().post(
            "/test/slow-search",
            Access::Staff(policy::Permission::SearchPatients),
            Phi::None,
            slow_search,
        ))
        .spawn()
        .await;
    let mut conn = begin_system(&app.pool, &SystemContext::default()).await.expect("connection");
    let timeout: String =
        sqlx::query_scalar("SHOW statement_timeout").fetch_one(&mut *conn).await.expect("show");
    assert_eq!(timeout, "200ms");
    let jit: String = sqlx::query_scalar("SHOW jit").fetch_one(&mut *conn).await.expect("show");
    assert_eq!(jit, "off");
    let workers: String =
        sqlx::query_scalar("SHOW max_parallel_workers_per_gather").fetch_one(&mut *conn).await.expect("show");
    assert_eq!(workers, "0");
    drop(conn);
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 0).await;
    app.act_as(Some(tenants.a.desk_context()));
    let started = std::time::Instant::now();
    let (status, body) = post(&app, "/test/slow-search", &[]).await;
    assert!(started.elapsed() < std::time::Duration::from_millis(1500), "cancelled, not waited out");
    assert_eq!(status, 500);
    assert!(body.contains("Something went wrong") && !body.contains("canceling statement"), "{body}");
    // The failure is on record (the work itself was rolled back).
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE action = 'request_failed' AND outcome = 'failure'"
        )
        .await,
        1
    );
    // The same connection serves the next request.
    assert_eq!(get(&app, "/patients").await.0, 200);
}

// ---- what people type is shown as text ----------------------------------------------------

#[tokio::test]
async fn markup_and_htmx_attributes_in_patient_data_are_shown_as_text() {
    // WEB-03 and INJ-03: names, contact notes, visit reasons and note text are escaped in
    // every context they appear (element text, attribute values), and a return address
    // is only ever a path of this site.
    let (app, tenants, kind) = setup(0).await;
    app.act_as(Some(tenants.a.desk_context()));
    let hostile_name = r#"<div hx-get="/members" hx-trigger="load">x</div>"#;
    let quote_breaker = r#"" onmouseover="alert(1)"#;
    let (status, _) = post(
        &app,
        "/patients",
        &[
            ("given_name", quote_breaker),
            ("family_name", hostile_name),
            ("preferred_name", "{{7*7}}"),
            ("date_of_birth", "1990-01-01"),
            ("legal_sex", "female"),
            ("confirm_new", "1"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let mut su = app.database().superuser().await;
    let patient: Uuid =
        sqlx::query_scalar("SELECT id FROM patients").fetch_one(&mut su).await.expect("patient");
    let patient = PatientId::from_uuid(patient);
    let (_, body) = post(&app, "/patients/search", &[("q", "")]).await;
    assert!(!body.contains("<div hx-get"), "registry: {body}");
    assert!(body.contains("&#60;div hx-get=&#34;/members&#34;"), "shown as text: {body}");
    let (_, body) = get(&app, &format!("/patients/{patient}")).await;
    assert!(!body.contains("<div hx-get") && !body.contains(r#"" onmouseover"#), "chart");
    assert!(body.contains("{{7*7}}"), "braces are text, not a template");
    let (_, body) = get(&app, &format!("/patients/{patient}/edit")).await;
    assert!(!body.contains(r#"value="" onmouseover"#), "attribute context: {body}");
    let (status, _) = post(
        &app,
        &format!("/patients/{patient}/contacts"),
        &[("kind", "email"), ("value", "a@b.example"), ("label", "<script>alert(1)</script>")],
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = get(&app, &format!("/patients/{patient}/contacts")).await;
    assert!(!body.contains("<script>alert"), "contact label");
    let monday = next_monday().to_string();
    let (status, _) = post(
        &app,
        &format!("/patients/{patient}/appointments"),
        &[
            ("provider_id", &tenants.a.provider.to_string()),
            ("type_id", &ulid::Ulid::from(kind).to_string()),
            ("date", &monday),
            ("time", "10:00"),
            ("reason", "<img src=x onerror=alert(1)>"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let (_, body) = get(&app, &format!("/schedule?date={monday}")).await;
    assert!(!body.contains("<img src=x"), "visit reason");
    let appointment: Uuid =
        sqlx::query_scalar("SELECT id FROM appointments").fetch_one(&mut su).await.expect("id");
    let appointment = lockdev::db::ids::AppointmentId::from_uuid(appointment);
    for bad in ["javascript:alert(1)", "https://evil.example/", "//evil.example/x"] {
        let (status, body) =
            get(&app, &format!("/appointments/{appointment}?return_to={}", urlencode(bad))).await;
        assert_eq!(status, 200);
        assert!(!body.contains(bad), "{bad} reached the page");
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn the_clinic_chooses_care_team_only_charts_and_its_timezone_on_the_settings_page() {
    let (app, tenants, _) = setup(2).await;
    let other = tenants.a.patients[1];
    app.act_as(Some(tenants.a.provider_context()));
    let res =
        app.post_form(&format!("/patients/{other}/notes"), &[("title", "Routine"), ("plan", "Rest")]).await;
    let note = res.headers()["location"].to_str().expect("ascii").to_owned();
    let (colleague, _) = member(&app, tenants.a.org, StaffRole::Provider).await;
    app.act_as(Some(colleague.clone()));
    assert_eq!(get(&app, &note).await.0, 200);

    app.act_as(Some(tenants.a.admin_context()));
    let (status, body) = get(&app, "/settings").await;
    assert_eq!(status, 200);
    assert!(body.contains("America/New_York"));
    let (status, body) = post(
        &app,
        "/settings",
        &[
            ("timezone", "Mars/Olympus"),
            ("chart_access", "care_team_only"),
            ("session_idle_minutes", "99"),
            ("reminder_leads", "72, 500"),
            ("window_start", "21:00"),
            ("window_end", "08:00"),
            ("callback_phone", "12"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("Choose a timezone from the list") && body.contains("from 1 to 15"));
    assert!(body.contains("between 1 and 336") && body.contains("the first earlier than the second"));
    assert!(body.contains("This number cannot be used") && body.contains("value=\"72, 500\""), "input kept");
    let (status, _) = post(
        &app,
        "/settings",
        &[
            ("timezone", "America/Chicago"),
            ("chart_access", "care_team_only"),
            ("session_idle_minutes", "10"),
            ("reminder_leads", "24, 72, 2"),
            ("window_start", "09:00"),
            ("window_end", "20:00"),
            ("callback_phone", "(617) 555-0100"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let mut su = app.database().superuser().await;
    let messaging: (Vec<i32>, String, Option<String>) = sqlx::query_as(
        "SELECT reminder_lead_hours, contact_window_start::text || '-' || contact_window_end::text, callback_phone
           FROM organizations WHERE id = $1",
    )
    .bind(tenants.a.org)
    .fetch_one(&mut su)
    .await
    .expect("messaging settings");
    assert_eq!(messaging, (vec![72, 24, 2], "09:00:00-20:00:00".to_owned(), Some("+16175550100".to_owned())));
    let mut su = app.database().superuser().await;
    let row = sqlx::query("SELECT timezone, settings::text AS settings FROM organizations WHERE id = $1")
        .bind(tenants.a.org)
        .fetch_one(&mut su)
        .await
        .expect("org");
    assert_eq!(row.get::<String, _>("timezone"), "America/Chicago");
    let settings: String = row.get("settings");
    assert!(
        settings.contains("care_team_only") && settings.contains("\"session_idle_minutes\": 10"),
        "{settings}"
    );
    // From the colleague's very next request, the note is out of reach.
    app.act_as(Some(colleague));
    assert_eq!(get(&app, &note).await.0, 404);
    // The front desk cannot change settings.
    app.act_as(Some(tenants.a.desk_context()));
    assert_eq!(post(&app, "/settings", &[("timezone", "UTC")]).await.0, 403);
}
