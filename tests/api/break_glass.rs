//! Break-glass (AZ-09, TEN-14): a super admin opens ONE patient's record in ONE clinic
//! only with a purpose, a reason and a proof of identity from the last five minutes; it
//! expires on its own; every read under it is marked; the clinic is told without patient
//! data; an auditor closes its review with a finding. A clinic member kept out by "care
//! team only" does the same from the chart, for reading only.

use chrono::TimeDelta;
use lockdev::auth::policy::PlatformRole;
use lockdev::auth::session::ContextClaim;
use lockdev::clock::Clock as _;
use lockdev::db::ids::UserId;
use reqwest::StatusCode;

use crate::fixtures::{signed_in, two_tenants};
use crate::helpers::TestApp;
use crate::helpers::spawn_app;
use crate::workspace::{count, get, post};

async fn grant_role(app: &TestApp, user: UserId, role: &str) {
    let mut su = app.database().superuser().await;
    sqlx::query("INSERT INTO platform_roles (user_id, role) VALUES ($1, $2)")
        .bind(user)
        .bind(role)
        .execute(&mut su)
        .await
        .expect("role");
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_super_admin_opens_one_record_for_an_hour_with_a_fresh_proof_marked_told_and_reviewed() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 2).await;
    let (p0, p1) = (tenants.a.patients[0], tenants.a.patients[1]);
    let root = app.with_totp(app.person("root@platform.example", "a long enough secret phrase").await).await;
    grant_role(&app, root.id, "super_admin").await;
    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&root, &app.clock).await, "/home");
    assert_eq!(browser.get("/platform/break-glass").await.status(), 200);
    // Platform work reaches no chart without it (TEN-14).
    assert_eq!(browser.get(&format!("/patients/{p0}")).await.status(), 403);
    let grants = format!("SELECT count(*) FROM break_glass_grants WHERE user_id = '{}'", root.id.as_uuid());
    let ask = |mrn: &'static str, reason: &'static str| {
        let clinic = tenants.a.org.to_string();
        vec![
            ("clinic", clinic),
            ("mrn", mrn.to_owned()),
            ("purpose", "support_request".to_owned()),
            ("reason", reason.to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let browser = &browser;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post_form("/platform/break-glass", &fields).await
        }
    };
    let reason = "Clinic ticket 4411: the front desk cannot open this chart";

    // Without a proof of identity from the last five minutes: asked for one, nothing opens.
    app.clock.advance(TimeDelta::minutes(6));
    let res = send(ask("MRN-0", reason)).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/account/reauthenticate"), "{}", location(&res));
    assert_eq!(count(&app, &grants).await, 0);
    let res = browser
        .post_form(
            "/account/reauthenticate",
            &[("password", &root.password), ("next", "/platform/break-glass")],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap_or_default());

    // Without a reason, or for a record number that names nobody: refused, said why.
    let res = send(ask("MRN-0", "because")).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("page").contains("Say why you need this record now"));
    let res = send(ask("MRN-404", reason)).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("page").contains("No patient of that clinic has this record number"));
    assert_eq!(count(&app, &grants).await, 0);
    let fishing = format!(
        "SELECT count(*) FROM audit_events WHERE organization_id IS NULL AND actor_user_id = '{}'
            AND outcome = 'denied' AND details ->> 'reason' = 'break_glass_no_such_patient'",
        root.id.as_uuid()
    );
    assert_eq!(count(&app, &fishing).await, 1);

    // Opened: a new session id, the chart of that one patient, every read marked.
    let before = browser.session_cookie();
    let res = send(ask("MRN-0", reason)).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap_or_default());
    assert_ne!(browser.session_cookie(), before, "the session id is cycled at the start");
    let res = browser.get("/home").await;
    assert_eq!(location(&res), format!("/patients/{p0}"));
    let res = browser.get(&format!("/patients/{p0}")).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    assert!(page.contains("Emergency access to one patient") && page.contains("Pat0"), "{page}");
    assert!(page.contains("Emergency access · Alpha Clinic · until"), "{page}");
    let marked = format!(
        "SELECT count(*) FROM audit_events WHERE organization_id = '{}' AND actor_user_id = '{}'
            AND patient_id = '{}' AND break_glass AND action = 'read'",
        tenants.a.org.as_uuid(),
        root.id.as_uuid(),
        p0.as_uuid()
    );
    assert!(count(&app, &marked).await >= 1);
    let started = format!(
        "SELECT count(*) FROM audit_events WHERE action = 'break_glass_started' AND break_glass
            AND organization_id = '{}' AND patient_id = '{}'",
        tenants.a.org.as_uuid(),
        p0.as_uuid()
    );
    assert_eq!(count(&app, &started).await, 1);
    // One patient, reading only, and nothing of the console meanwhile.
    assert_eq!(browser.get(&format!("/patients/{p1}")).await.status(), 404);
    assert_eq!(browser.get(&format!("/patients/{p0}/notes/new")).await.status(), 403);
    assert_eq!(browser.get("/platform/clinics").await.status(), 403);
    assert_eq!(browser.get(&format!("/patients/{}", tenants.b.patients[0])).await.status(), 404);

    // The clinic is told at once, with no patient data.
    let mail = app.mailbox().await;
    let told: Vec<_> =
        mail.iter().filter(|(_, subject, _)| subject.contains("Emergency access opened")).collect();
    assert_eq!(told.len(), 1, "the administrator, as no privacy officer is named: {mail:?}");
    let (to, subject, text) = told[0];
    assert!(to.starts_with("admin.") && subject.contains("Alpha Clinic"), "{to} {subject}");
    assert!(text.contains("/settings/emergency-access") && text.contains("a support request"), "{text}");
    assert!(!text.contains("Pat0") && !text.contains("MRN-0") && !text.contains("ALPHA-CANARY"), "{text}");

    // It ends on its own after the hour.
    app.clock.advance(TimeDelta::minutes(61));
    assert_ne!(browser.get(&format!("/patients/{p0}")).await.status(), 200, "expired");

    // The review queue: identifiers and the reason; a finding closes it, once, and
    // never by the person who used it.
    let auditor = app.person("auditor@platform.example", "a long enough secret phrase").await;
    grant_role(&app, auditor.id, "auditor").await;
    app.act_as(Some(signed_in(auditor.id, ContextClaim::Platform { role: PlatformRole::Auditor })));
    let (status, page) = get(&app, "/compliance/break-glass").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("MRN-0") && page.contains("Clinic ticket 4411") && page.contains("awaiting review"),
        "{page}"
    );
    assert!(!page.contains("Pat0"), "no names of patients: {page}");
    let grant: (uuid::Uuid,) = sqlx::query_as("SELECT id FROM break_glass_grants WHERE user_id = $1")
        .bind(root.id)
        .fetch_one(&mut app.database().superuser().await)
        .await
        .expect("grant");
    let review = format!("/compliance/break-glass/{}/{}/review", tenants.a.org, grant.0);
    app.act_as(Some(signed_in(root.id, ContextClaim::Platform { role: PlatformRole::Auditor })));
    assert_eq!(post(&app, &review, &[("finding", "appropriate")]).await.0, StatusCode::FORBIDDEN);
    app.act_as(Some(signed_in(auditor.id, ContextClaim::Platform { role: PlatformRole::Auditor })));
    assert_eq!(post(&app, &review, &[("finding", "fine")]).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, page) = post(&app, &review, &[("finding", "appropriate"), ("note", "Ticket matched")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Review recorded") && page.contains("Nothing awaits review"), "{page}");
    assert_eq!(post(&app, &review, &[("finding", "appropriate")]).await.0, StatusCode::CONFLICT);

    // The clinic's administrators see it in their log.
    app.act_as(Some(tenants.a.admin_context()));
    let (status, page) = get(&app, "/settings/emergency-access").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("MRN-0") && page.contains("Appropriate") && page.contains("Platform support"),
        "{page}"
    );
    app.act_as(Some(tenants.b.admin_context()));
    let (_, page) = get(&app, "/settings/emergency-access").await;
    assert!(!page.contains("MRN-0 "), "another clinic sees none of it: {page}");
}

#[tokio::test]
async fn a_member_kept_out_by_care_team_only_reads_one_chart_in_an_emergency_until_it_ends() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 3).await;
    let a = &tenants.a;
    let (p0, p1, p2) = (a.patients[0], a.patients[1], a.patients[2]);
    crate::workspace::notes::set_chart_access(&app, a.org, "care_team_only").await;
    // The administrator names the front desk's member the privacy officer.
    let mut su = app.database().superuser().await;
    let desk: uuid::Uuid = sqlx::query_scalar("SELECT id FROM memberships WHERE user_id = $1")
        .bind(a.desk_user)
        .fetch_one(&mut su)
        .await
        .expect("membership");
    let desk = lockdev::db::ids::MembershipId::from_uuid(desk);
    app.act_as(Some(a.admin_context()));
    let (status, page) = post(&app, &format!("/members/{desk}/privacy-officer"), &[("on", "1")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("is a privacy officer") && page.contains("Unname"), "{page}");
    let audited = "SELECT count(*) FROM audit_events WHERE resource_type = 'membership'
                     AND details -> 'after' ->> 'is_privacy_officer' = 'true'";
    assert_eq!(count(&app, audited).await, 1);
    app.act_as(Some(a.provider_context()));
    let notes = |p| format!("/patients/{p}/notes");
    assert_eq!(get(&app, &notes(p1)).await.0, StatusCode::NOT_FOUND, "not on the care team");

    let (status, page) = get(&app, &format!("/patients/{p1}/emergency-access")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("MRN-1") && page.contains("60 minutes"), "{page}");
    let ask = format!("/patients/{p1}/emergency-access");
    assert_eq!(post(&app, &ask, &[("purpose", "emergency_care"), ("reason", "short")]).await.0, 422);
    let reason =
        [("purpose", "emergency_care"), ("reason", "Collapsed in the waiting room, covering for Dr. Lee")];
    let (status, _) = post(&app, &ask, &reason).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, &notes(p1)).await.0, StatusCode::OK, "open now");
    let marked = |p: lockdev::db::ids::PatientId| {
        format!(
            "SELECT count(*) FROM audit_events WHERE actor_user_id = '{}' AND patient_id = '{}' AND break_glass",
            a.provider_user.as_uuid(),
            p.as_uuid()
        )
    };
    assert!(count(&app, &marked(p1)).await >= 2, "the start and the read, marked");
    assert_eq!(get(&app, &format!("/patients/{p0}/notes")).await.0, StatusCode::OK, "own patient");
    assert_eq!(count(&app, &marked(p0)).await, 0, "reads of others are not marked");
    assert_eq!(get(&app, &notes(p2)).await.0, StatusCode::NOT_FOUND, "one patient only");
    assert_eq!(
        get(&app, &format!("/patients/{p1}/notes/new")).await.0,
        StatusCode::NOT_FOUND,
        "reading only"
    );

    // The privacy officer is told (no patient data).
    let mail = app.mailbox().await;
    let told: Vec<_> =
        mail.iter().filter(|(_, subject, _)| subject.contains("Emergency access opened")).collect();
    assert_eq!(told.len(), 1, "{mail:?}");
    assert!(told[0].0.starts_with("desk.") && !told[0].2.contains("MRN-1"), "{told:?}");

    // One at a time: asking for another patient ends the first.
    let (status, _) = post(&app, &format!("/patients/{p2}/emergency-access"), &reason).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, &notes(p1)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &notes(p2)).await.0, StatusCode::OK);

    // It expires with the clock; ending early works too.
    app.clock.advance(TimeDelta::minutes(61));
    assert_eq!(get(&app, &notes(p2)).await.0, StatusCode::NOT_FOUND, "expired");
    let mut fresh = a.provider_context();
    fresh.reauthenticated_at = app.clock.now();
    app.act_as(Some(fresh));
    assert_eq!(post(&app, &ask, &reason).await.0, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, &notes(p1)).await.0, StatusCode::OK);
    assert_eq!(post(&app, "/break-glass/end", &[]).await.0, StatusCode::SEE_OTHER);
    assert_eq!(get(&app, &notes(p1)).await.0, StatusCode::NOT_FOUND, "ended");
    let ended = "SELECT count(*) FROM audit_events WHERE action = 'break_glass_ended'";
    assert_eq!(count(&app, ended).await, 1);

    // A clinic that shortened it to 15 minutes.
    sqlx::query(
        "UPDATE organizations SET settings = settings || '{\"break_glass_minutes\": 15}' WHERE id = $1",
    )
    .bind(a.org)
    .execute(&mut su)
    .await
    .expect("setting");
    let (_, page) = get(&app, &ask).await;
    assert!(page.contains("for 15 minutes"), "{page}");
    assert_eq!(post(&app, &ask, &reason).await.0, StatusCode::SEE_OTHER);
    app.clock.advance(TimeDelta::minutes(16));
    assert_eq!(get(&app, &notes(p1)).await.0, StatusCode::NOT_FOUND, "the clinic's length");

    // Nobody without clinical reading asks; the front desk is refused.
    app.act_as(Some(a.desk_context()));
    assert_eq!(get(&app, &format!("/patients/{p1}/emergency-access")).await.0, StatusCode::FORBIDDEN);
    // Another clinic's patient is not found.
    app.act_as(Some(tenants.b.provider_context()));
    assert_eq!(get(&app, &format!("/patients/{p1}/emergency-access")).await.0, StatusCode::NOT_FOUND);
}
