//! Care teams and clinical notes: drafts, signing, addenda, sensitive categories, care-team-only charts.

use lockdev::auth::policy::StaffRole;
use lockdev::db::ids::{OrganizationId, ProviderId};
use lockdev::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};
use uuid::Uuid;

use super::{count, get, in_clinic, member, post, setup, ulid};
use crate::helpers::TestApp;

// ---- care team and clinical notes ---------------------------------------------------------

pub(crate) async fn set_chart_access(app: &TestApp, org: OrganizationId, setting: &str) {
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

    // The front desk sees that the note exists (date, author, state), never its text, and
    // not its title either: a title says what the visit was about (AZ-13).
    app.act_as(Some(tenants.a.desk_context()));
    let (status, body) = get(&app, &format!("/patients/{patient}/notes")).await;
    assert_eq!(status, 200);
    assert!(body.contains("Clinical note"), "{body}");
    assert!(!body.contains("Visit"), "{body}");
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
    // Signed: a draft is its author's alone.
    assert_eq!(post(&app, &format!("{routine}/sign"), &[]).await.0, 200);

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
        &[
            ("provider_id", &ProviderId::from_uuid(colleague_provider).to_string()),
            ("role", "primary"),
            ("reason", "New primary after a move"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // One primary at a time.
    let (status, body) = post(
        &app,
        &format!("/patients/{other}/care-team"),
        &[
            ("provider_id", &tenants.a.provider.to_string()),
            ("role", "primary"),
            ("reason", "Second opinion"),
        ],
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

/// The lost-edit case: the clinician changes the draft and presses "Sign the note" without
/// saving. What is on the screen is what gets signed.
#[tokio::test]
async fn signing_a_draft_signs_what_is_on_the_screen() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    app.act_as(Some(tenants.a.provider_context()));
    let res = app
        .post_form(&format!("/patients/{patient}/notes"), &[("title", "Visit"), ("subjective", "Cough")])
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().expect("ascii").to_owned();
    // Edited on the screen, never saved, then signed: the sign request carries the form.
    let (status, body) = post(
        &app,
        &format!("{location}/sign"),
        &[("title", "Visit"), ("subjective", "Cough, worse at night"), ("plan", "Chest X-ray")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Cough, worse at night") && body.contains("Chest X-ray"), "{body}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM clinical_notes WHERE status = 'signed' AND plan = 'Chest X-ray'")
            .await,
        1
    );
    // An incomplete screen is refused with every word kept, and nothing is signed.
    let res =
        app.post_form(&format!("/patients/{patient}/notes"), &[("title", "Second"), ("plan", "Rest")]).await;
    let second = res.headers()["location"].to_str().expect("ascii").to_owned();
    let (status, body) =
        post(&app, &format!("{second}/sign"), &[("title", " "), ("plan", "Rest, then review in a week")])
            .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Rest, then review in a week"), "the typed text comes back: {body}");
    assert!(body.contains("Not signed yet") && body.contains("Give the note a title"), "{body}");
    assert_eq!(count(&app, "SELECT count(*) FROM clinical_notes WHERE status = 'signed'").await, 1);
}

#[tokio::test]
async fn drafts_save_themselves_once_and_stay_their_authors() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    app.act_as(Some(tenants.a.provider_context()));
    // The new-note form names the draft it will create.
    let (status, form) = get(&app, &format!("/patients/{patient}/notes/new")).await;
    assert_eq!(status, 200);
    let marker = "/autosave\"";
    let end = form.find(marker).expect("an autosave address");
    let start = form[..end].rfind("/notes/").expect("the draft's id") + "/notes/".len();
    let draft = form[start..end].to_owned();
    let autosave = format!("/patients/{patient}/notes/{draft}/autosave");
    // Typing with no title yet: kept anyway, the answer is only the status line.
    let (status, body) =
        post(&app, &autosave, &[("title", ""), ("subjective", "Headache since Monday")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Saved at"), "{body}");
    assert!(!body.contains("Headache"), "the status line does not repeat the note: {body}");
    // Typing on, and a double-clicked save: still one note, holding the latest text.
    for _ in 0..2 {
        let (status, _) = post(
            &app,
            &autosave,
            &[("title", "Headache"), ("subjective", "Headache since Monday, no fever")],
        )
        .await;
        assert_eq!(status, 200);
    }
    assert_eq!(count(&app, "SELECT count(*) FROM clinical_notes").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM clinical_notes WHERE subjective = 'Headache since Monday, no fever'"
        )
        .await,
        1
    );
    // Over a limit: not saved, and the status says why.
    let long = "x".repeat(20_001);
    let (status, body) = post(&app, &autosave, &[("title", "Headache"), ("plan", &long)]).await;
    assert_eq!(status, 422);
    assert!(body.contains("Not saved") && body.contains("20,000"), "{body}");
    assert_eq!(count(&app, "SELECT count(*) FROM clinical_notes WHERE plan <> ''").await, 0);
    // Every save is audited as a write of the chart.
    assert!(
        count(&app, "SELECT count(*) FROM audit_events WHERE resource_type = 'clinical_note' AND action IN ('create', 'update')")
            .await
            >= 3
    );

    // A colleague: the draft is listed without its title and does not open; their own
    // autosave cannot overwrite it.
    let (colleague, _) = member(&app, tenants.a.org, StaffRole::Provider).await;
    let (nurse, _) = member(&app, tenants.a.org, StaffRole::ClinicalStaff).await;
    for who in [colleague, nurse] {
        app.act_as(Some(who));
        let (status, body) = get(&app, &format!("/patients/{patient}/notes")).await;
        assert_eq!(status, 200);
        assert!(body.contains("Draft") && !body.contains("Headache"), "{body}");
        assert_eq!(get(&app, &format!("/patients/{patient}/notes/{draft}")).await.0, 404);
        let (status, _) = post(&app, &autosave, &[("title", "Mine now"), ("plan", "overwritten")]).await;
        assert_eq!(status, 400);
    }
    assert_eq!(count(&app, "SELECT count(*) FROM clinical_notes WHERE plan = 'overwritten'").await, 0);
    // The author signs it; then everyone who reads notes may open it.
    app.act_as(Some(tenants.a.provider_context()));
    let (status, _) = post(
        &app,
        &format!("/patients/{patient}/notes/{draft}/sign"),
        &[("title", "Headache"), ("subjective", "Headache since Monday, no fever")],
    )
    .await;
    assert_eq!(status, 200);
    let (nurse, _) = member(&app, tenants.a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse));
    let (status, body) = get(&app, &format!("/patients/{patient}/notes/{draft}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("no fever"));
}

#[tokio::test]
async fn an_empty_addendum_answers_with_the_form_and_not_the_note() {
    let (app, tenants, _) = setup(1).await;
    let patient = tenants.a.patients[0];
    let note = in_clinic(
        &app,
        tenants.a.org,
        "INSERT INTO clinical_notes (organization_id, patient_id, author_user_id, title, plan, status, signed_at, signed_by)
         VALUES ($1, $2, $3, 'Visit', 'NOTE-BODY-CANARY', 'signed', now(), $3) RETURNING id",
        &[&tenants.a.org.as_uuid(), &patient.as_uuid(), &tenants.a.provider_user.as_uuid()],
    )
    .await
    .expect("note");
    app.act_as(Some(tenants.a.provider_context()));
    let path = format!("/patients/{patient}/notes/{}/addenda", ulid(note));
    let res = app
        .client
        .post(app.url(&path))
        .header("X-CSRF-Token", app.csrf_token().await)
        .header("HX-Request", "true")
        .form(&[("body", "  ")])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["hx-retarget"], "#addendum-form");
    let body = res.text().await.expect("body");
    assert!(body.contains("Write the addendum."), "{body}");
    assert!(!body.contains("NOTE-BODY-CANARY"), "{body}");
    let (status, page) = post(&app, &path, &[("body", "")]).await;
    assert_eq!(status, 422);
    assert!(!page.contains("NOTE-BODY-CANARY"), "the full page has the form, not the note");
}

/// A note documents one of the patient's visits: the visit's page offers to write it, the
/// form has it chosen, the signed note links back to it; another patient's visit is
/// refused and nothing is written.
#[tokio::test]
async fn a_note_links_to_the_visit_it_documents() {
    let (app, tenants, kind) = setup(2).await;
    let a = &tenants.a;
    let (patient, other) = (a.patients[0], a.patients[1]);
    let book = async |who: lockdev::db::ids::PatientId, hours_ago: i32| {
        in_clinic(
            &app,
            a.org,
            "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
             VALUES ($1, $2, $3, $4, now() - make_interval(hours => $5), now() - make_interval(hours => $5) + interval '30 minutes')
             RETURNING id",
            &[&a.org.as_uuid(), &who.as_uuid(), &a.provider.as_uuid(), &kind, &hours_ago],
        )
        .await
        .expect("visit")
    };
    let visit = ulid(book(patient, 2).await);
    let elsewhere = ulid(book(other, 4).await);

    app.act_as(Some(a.desk_context()));
    let (_, page) = get(&app, &format!("/appointments/{visit}")).await;
    assert!(!page.contains("Write the visit note"), "the front desk writes no notes");
    app.act_as(Some(a.provider_context()));
    let (status, page) = get(&app, &format!("/appointments/{visit}")).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("/patients/{patient}/notes/new?visit={visit}")), "{page}");
    let (status, form) = get(&app, &format!("/patients/{patient}/notes/new?visit={visit}")).await;
    assert_eq!(status, 200);
    assert!(form.contains(&format!(r#"<option value="{visit}" selected>"#)), "{form}");
    assert!(!form.contains(&elsewhere), "only this patient's visits are offered");

    let notes = format!("/patients/{patient}/notes");
    let (status, body) =
        post(&app, &notes, &[("title", "Visit"), ("plan", "Rest"), ("visit", &elsewhere)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Choose the visit from the list"), "{body}");
    assert_eq!(count(&app, "SELECT count(*) FROM clinical_notes").await, 0, "nothing written");

    let res = app.post_form(&notes, &[("title", "Visit"), ("plan", "Rest"), ("visit", &visit)]).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().expect("ascii").to_owned();
    let (status, body) =
        post(&app, &format!("{location}/sign"), &[("title", "Visit"), ("plan", "Rest"), ("visit", &visit)])
            .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Documents the visit of") && body.contains(&format!("/appointments/{visit}")),
        "{body}"
    );
}
