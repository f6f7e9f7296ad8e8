//! Registry and search, registration with duplicate detection, demographics.

use lockdev::auth::policy::StaffRole;
use lockdev::clock::Clock as _;
use lockdev::db::tenant::{TenantContext, begin_tenant};
use sqlx::Row;
use uuid::Uuid;

use super::{count, get, member, post, register, setup};

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
    // Everything but the ids of the patients shown (random letters, which may spell
    // "gar" by chance) is free of the terms.
    let without_ids: Vec<String> = details
        .iter()
        .map(|d| {
            let mut value: serde_json::Value = serde_json::from_str(d).expect("json");
            value.as_object_mut().expect("an object").remove("patient_ids");
            value.to_string()
        })
        .collect();
    assert!(
        without_ids.iter().all(|d| !d.to_lowercase().contains("gar") && !d.contains("1984")),
        "{without_ids:?}"
    );
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
    // Same phone, another person: the warning, without naming whose number it is (the
    // error page shows what the form needs, not another patient's identity).
    let (status, body) = register(&app, "Luis", "Garcia", "2010-01-01", "+1 617 201 3344").await;
    assert_eq!(status, 409);
    assert!(body.contains("Another record uses this mobile number"), "{body}");
    // Looked for as whole words: a page's random nonce and tokens can hold "Ana" by chance.
    let words: Vec<&str> = body.split(|c: char| !c.is_alphanumeric() && c != '-').collect();
    assert!(
        !words.contains(&"Ana")
            && !body.contains("1984-03-09")
            && !words.iter().any(|w| w.starts_with("MRN-")),
        "{body}"
    );
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

/// Near matches are caught too, ranked closest first: a slip in a name, first and last
/// name swapped, day and month of birth swapped, a date one digit apart. A different
/// person with the same birthday is not a candidate.
#[tokio::test]
async fn near_matches_are_caught_and_ranked() {
    let (app, tenants, _) = setup(0).await;
    app.act_as(Some(tenants.a.desk_context()));
    assert_eq!(register(&app, "Katherine", "Johnson", "1984-03-09", "").await.0, 303);
    assert_eq!(register(&app, "Johnson", "Katherine", "1984-03-09", "").await.0, 409, "swapped names");
    for (given, family, born, reason) in [
        ("Kathrine", "Jonson", "1984-03-09", "same date of birth, a similar name"),
        ("Katherine", "Johnson", "1984-09-03", "same name, day and month of birth swapped"),
        ("Katherine", "Johnson", "1984-03-08", "same name, date of birth one digit apart"),
        ("KATHERINE", "johnson", "1984-03-09", "same name and date of birth"),
    ] {
        let (status, body) = register(&app, given, family, born, "").await;
        assert_eq!(status, 409, "{given} {family} {born}");
        assert!(body.contains(reason), "{given} {family} {born}: {body}");
        assert!(body.contains("Johnson, Katherine"), "the candidate is named with its MRN: {body}");
    }
    assert_eq!(register(&app, "Maria", "Lopez", "1984-03-09", "").await.0, 303, "another person");
    assert_eq!(count(&app, "SELECT count(*) FROM patients").await, 2);
    // Ranked: with an exact and a near record on file, the exact comes first.
    let (_, body) = register(&app, "Maria", "Lopes", "1984-03-09", "").await;
    assert!(body.contains("a similar name"), "{body}");
    let (_, body) = register(&app, "Maria", "Lopez", "1984-03-09", "").await;
    let exact = body.find("same name and date of birth").expect("exact");
    assert!(body.find("a similar name").is_none_or(|near| exact < near), "{body}");
}

/// Legal sex is chosen with the patient, never defaulted to "Unknown".
#[tokio::test]
async fn legal_sex_is_a_required_choice() {
    let (app, tenants, _) = setup(0).await;
    app.act_as(Some(tenants.a.desk_context()));
    let (status, page) = get(&app, "/patients/new").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<option value="" selected>Choose"#), "{page}");
    let (status, body) = post(
        &app,
        "/patients",
        &[
            ("given_name", "Sam"),
            ("family_name", "Lee"),
            ("date_of_birth", "1990-01-01"),
            ("manages_own_care", "self"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Choose the sex recorded"), "{body}");
    assert_eq!(count(&app, "SELECT count(*) FROM patients").await, 0);
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

    let (status, _) =
        post(&app, &format!("/patients/{patient}/remove"), &[("reason", "Duplicate"), ("confirm", "1")])
            .await;
    assert_eq!(status, 303);
    assert_eq!(count(&app, "SELECT count(*) FROM patients WHERE deleted_at IS NOT NULL").await, 1, "kept");
    assert_eq!(get(&app, &format!("/patients/{patient}")).await.0, 404, "gone from the registry");
    let (_, body) = post(&app, "/patients/search", &[("q", "renamed")]).await;
    assert!(!body.contains("result__name"), "not found by name any more");
}

#[tokio::test]
async fn removing_a_patient_asks_why_and_to_confirm_cancels_their_visits_and_can_be_undone() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    let mut su = app.database().superuser().await;
    // A visit still to come and one in the past.
    let kind: Uuid = sqlx::query_scalar(
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Removal test', 30) RETURNING id",
    )
    .bind(tenants.a.org)
    .fetch_one(&mut su)
    .await
    .expect("kind");
    for days in [-3, 3] {
        sqlx::query(
            "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(days => $5), now() + make_interval(days => $5, mins => 30))",
        )
        .bind(tenants.a.org)
        .bind(patient)
        .bind(tenants.a.provider)
        .bind(kind)
        .bind(days)
        .execute(&mut su)
        .await
        .expect("visit");
    }
    // Not for nurses or providers: 403 before anything is read.
    for who in [tenants.a.provider_context(), member(&app, tenants.a.org, StaffRole::ClinicalStaff).await.0] {
        app.act_as(Some(who));
        assert_eq!(get(&app, &format!("/patients/{patient}/remove")).await.0, 403);
        let (status, _) =
            post(&app, &format!("/patients/{patient}/remove"), &[("reason", "Duplicate"), ("confirm", "1")])
                .await;
        assert_eq!(status, 403);
    }
    app.act_as(Some(tenants.a.desk_context()));
    let (status, page) = get(&app, &format!("/patients/{patient}/remove")).await;
    assert_eq!(status, 200);
    assert!(page.contains("The one visit still to come is cancelled"), "{page}");
    // No reason, no tick: the page comes back saying so, nothing removed.
    let (status, page) =
        post(&app, &format!("/patients/{patient}/remove"), &[("reason", "Registered twice")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("Tick the box") && page.contains("value=\"Registered twice\""), "{page}");
    let (status, page) = post(&app, &format!("/patients/{patient}/remove"), &[("confirm", "1")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("Say why"), "{page}");
    assert_eq!(count(&app, "SELECT count(*) FROM patients WHERE deleted_at IS NOT NULL").await, 0);
    // Removed: the visit to come is cancelled, the past one stays.
    let (status, _) = post(
        &app,
        &format!("/patients/{patient}/remove"),
        &[("reason", "Registered twice"), ("confirm", "1")],
    )
    .await;
    assert_eq!(status, 303);
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM appointments WHERE patient_id = $1 ORDER BY starts_at")
            .bind(patient)
            .fetch_all(&mut su)
            .await
            .expect("statuses");
    assert_eq!(statuses, ["booked", "cancelled"]);
    // The list of removals names them with the reason; putting them back opens the chart.
    let (_, list) = get(&app, "/patients/removed").await;
    assert!(list.contains("Registered twice") && list.contains("MRN-0"), "{list}");
    let (status, _) = post(&app, &format!("/patients/removed/{patient}/restore"), &[]).await;
    assert_eq!(status, 303);
    assert_eq!(get(&app, &format!("/patients/{patient}")).await.0, 200, "back on the registry");
    assert_eq!(
        post(&app, &format!("/patients/removed/{patient}/restore"), &[]).await.0,
        404,
        "not removed now"
    );
    // Another clinic's front desk neither sees the removal nor undoes it.
    post(&app, &format!("/patients/{patient}/remove"), &[("reason", "Registered twice"), ("confirm", "1")])
        .await;
    app.act_as(Some(tenants.b.desk_context()));
    let (_, list) = get(&app, "/patients/removed").await;
    assert!(!list.contains(&patient.to_string()) && !list.contains("Registered twice"), "{list}");
    assert_eq!(post(&app, &format!("/patients/removed/{patient}/restore"), &[]).await.0, 404);
    assert_eq!(
        count(&app, "SELECT count(*) FROM patients WHERE deleted_at IS NOT NULL").await,
        1,
        "still removed"
    );
    app.act_as(Some(tenants.a.desk_context()));
    let (status, _) = post(&app, &format!("/patients/removed/{patient}/restore"), &[]).await;
    assert_eq!(status, 303);
    // After the window a removal stays.
    post(&app, &format!("/patients/{patient}/remove"), &[("reason", "Registered twice"), ("confirm", "1")])
        .await;
    app.clock.set(app.clock.now() + chrono::TimeDelta::days(31));
    let (_, list) = get(&app, "/patients/removed").await;
    assert!(!list.contains("MRN-0"), "{list}");
    assert_eq!(post(&app, &format!("/patients/removed/{patient}/restore"), &[]).await.0, 404);
}
