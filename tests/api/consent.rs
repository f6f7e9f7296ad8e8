//! The consent gate (terms of service, the clinic's privacy notice; a new version asks
//! again) and text-message consent (given per patient, withdrawable), all recorded with
//! version, time, address and user agent.

use chrono::TimeDelta;
use lockdev::clock::Clock as _;
use lockdev::db::ids::{OrganizationId, PatientId};
use lockdev::db::tenant::{TenantContext, begin_system, begin_tenant};

use crate::fixtures::two_tenants;
use crate::helpers::{Browser, Person, TestApp, spawn_app};

async fn publish(app: &TestApp, org: Option<OrganizationId>, kind: &str, version: &str) {
    let owner = app.database().owner_pool().await;
    let mut tx = match org {
        Some(org) => begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx"),
        None => begin_system(&owner, &Default::default()).await.expect("tx"),
    };
    sqlx::query(
        "INSERT INTO consent_documents (organization_id, kind, version, title, body, effective_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(org)
    .bind(kind)
    .bind(version)
    .bind(format!("{kind} {version}"))
    .bind(format!("The text of {kind} version {version}."))
    .bind(app.clock.now() - TimeDelta::seconds(1))
    .execute(&mut *tx)
    .await
    .expect("document");
    tx.commit().await.expect("commit");
}

/// A patient of the first clinic with a login.
async fn patient(app: &TestApp) -> (Person, OrganizationId, PatientId) {
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let person = app.person("patient@home.example", "a long enough secret phrase").await;
    app.link_patient(tenants.a.org, tenants.a.patients[0], &person).await;
    (person, tenants.a.org, tenants.a.patients[0])
}

fn ticked(page: &str) -> Vec<String> {
    page.split("name=\"accept\" value=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_current_documents_must_be_accepted_before_the_app_opens_and_a_new_version_asks_again() {
    let app = spawn_app().spawn().await;
    let (person, org, _) = patient(&app).await;
    publish(&app, None, "terms_of_service", "1").await;
    publish(&app, Some(org), "privacy_notice", "2026-01").await;

    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&person, &app.clock).await, "/consent");
    assert_eq!(browser.get("/portal").await.headers()["location"], "/consent", "nothing opens before");
    let page = browser.get("/consent").await.text().await.expect("page");
    assert!(page.contains("terms_of_service 1") && page.contains("privacy_notice 2026-01"));
    let ids = ticked(&page);
    assert_eq!(ids.len(), 2);

    let res = browser.post_form("/consent", &[("accept", &ids[0])]).await;
    assert_eq!(res.status(), 422, "every box must be ticked");
    assert!(res.text().await.expect("page").contains("tick each box"));
    let res = browser
        .client
        .post(browser.url("/consent"))
        .header("User-Agent", "ConsentTest/1.0")
        .form(&[
            ("accept", ids[0].as_str()),
            ("accept", ids[1].as_str()),
            ("csrf_token", &browser.csrf_token().await),
        ])
        .send()
        .await
        .expect("accept");
    assert_eq!(res.status(), 303);
    assert_eq!(browser.get("/portal").await.status(), 200);

    let mut su = app.database().superuser().await;
    let recorded: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT d.version, host(c.ip), c.user_agent FROM consents c JOIN consent_documents d ON d.id = c.document_id
          WHERE c.user_id = $1 ORDER BY d.version",
    )
    .bind(person.id)
    .fetch_all(&mut su)
    .await
    .expect("consents");
    assert_eq!(recorded.len(), 2);
    for (_, ip, agent) in &recorded {
        assert_eq!(ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(agent.as_deref(), Some("ConsentTest/1.0"));
    }

    // Next time straight in; after a new version of the terms, asked again for it alone.
    let again = app.browser();
    assert_eq!(again.sign_in_fully(&person, &app.clock).await, "/home");
    app.clock.advance(TimeDelta::days(30));
    publish(&app, None, "terms_of_service", "2").await;
    let later = app.browser();
    assert_eq!(later.sign_in_fully(&person, &app.clock).await, "/consent");
    let page = later.get("/consent").await.text().await.expect("page");
    assert_eq!(ticked(&page).len(), 1);
    assert!(page.contains("terms_of_service 2"));
}

async fn standing(su: &mut sqlx::PgConnection, patient: PatientId, person: &Person) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM consents c JOIN consent_documents d ON d.id = c.document_id
          WHERE d.kind = 'sms' AND c.patient_id = $1 AND c.user_id = $2 AND c.withdrawn_at IS NULL",
    )
    .bind(patient)
    .bind(person.id)
    .fetch_one(su)
    .await
    .expect("count")
}

async fn sms_page(browser: &Browser) -> String {
    let res = browser.get("/portal/text-messages").await;
    assert_eq!(res.status(), 200);
    res.text().await.expect("page")
}

#[tokio::test]
async fn text_message_consent_is_given_for_a_patient_recorded_and_can_be_withdrawn() {
    let app = spawn_app().spawn().await;
    let (person, org, patient_id) = patient(&app).await;
    let browser = app.browser();
    browser.sign_in_fully(&person, &app.clock).await;
    assert!(sms_page(&browser).await.contains("does not send text messages yet"));

    publish(&app, Some(org), "sms", "3").await;
    let page = sms_page(&browser).await;
    assert!(page.contains("I agree to receive text messages") && page.contains("version 3"));
    let res = browser.post_form("/portal/text-messages", &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("page").contains("You agreed to receive text messages"));

    let mut su = app.database().superuser().await;
    assert_eq!(standing(&mut su, patient_id, &person).await, 1);

    let res = browser.post_form("/portal/text-messages/withdraw", &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("page").contains("No more text messages"));
    assert_eq!(standing(&mut su, patient_id, &person).await, 0);
    assert!(sms_page(&browser).await.contains("I agree to receive text messages"), "can agree again");
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE patient_id = $1 AND action LIKE 'consent_%' ORDER BY occurred_at, id",
    )
    .bind(patient_id)
    .fetch_all(&mut su)
    .await
    .expect("audit");
    assert_eq!(audited, ["consent_accepted", "consent_withdrawn"]);
}

/// The id of the document `title` names.
async fn document_id(su: &mut sqlx::PgConnection, title: &str) -> String {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM consent_documents WHERE title = $1")
        .bind(title)
        .fetch_one(su)
        .await
        .expect("document");
    crate::workspace::ulid(id)
}

/// Consent documents (ADM): the administrator publishes a new version of the notice and a
/// consent to treatment; a mistake is named with what was typed kept, a version label is
/// used once, the earlier version stays readable, the publication is audited, and the
/// patient is asked for both at their next context entry (the treatment consent recorded
/// for that patient).
#[tokio::test]
async fn an_administrator_publishes_a_new_version_and_people_are_asked_again_at_their_next_entry() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let (a, b) = (&tenants.a, &tenants.b);
    let person = app.person("patient@home.example", "a long enough secret phrase").await;
    app.link_patient(a.org, a.patients[0], &person).await;
    publish(&app, None, "terms_of_service", "1").await;
    publish(&app, Some(a.org), "privacy_notice", "2026-01").await;
    publish(&app, Some(b.org), "privacy_notice", "2026-01").await;
    let first = app.browser();
    assert_eq!(first.sign_in_fully(&person, &app.clock).await, "/consent");
    let ids = ticked(&first.get("/consent").await.text().await.expect("page"));
    let accept: Vec<(&str, &str)> = ids.iter().map(|id| ("accept", id.as_str())).collect();
    let mut fields = accept.clone();
    let token = first.csrf_token().await;
    fields.push(("csrf_token", &token));
    assert_eq!(
        first.client.post(first.url("/consent")).form(&fields).send().await.expect("accept").status(),
        303
    );

    app.act_as(Some(a.admin_context()));
    let res = app.get("/settings/consents").await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    assert!(page.contains("privacy_notice 2026-01") && page.contains("current"), "{page}");
    assert!(page.contains("None published yet"), "no treatment consent yet: {page}");

    let wrong =
        [("kind", "privacy_notice"), ("version", "v 2"), ("title", "Notice, second edition"), ("body", " ")];
    let res = app.post_form("/settings/consents", &wrong).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.expect("page");
    assert!(body.contains("1 to 20 letters") && body.contains("Paste the full text"), "{body}");
    assert!(body.contains("value=\"Notice, second edition\""), "kept: {body}");
    let res = app.post_form("/settings/consents", &[("kind", "terms_of_service"), ("version", "9")]).await;
    assert_eq!(res.status(), 422, "a clinic does not publish the platform's terms");

    let notice = [
        ("kind", "privacy_notice"),
        ("version", "2027-01"),
        ("title", "Notice, second edition"),
        ("body", "We now share records with the state registry.\nLine two."),
    ];
    let res = app.post_form("/settings/consents", &notice).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("page").contains("version 2027-01 published"));
    let res = app.post_form("/settings/consents", &notice).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.expect("page").contains("exists already"));
    let treatment = [
        ("kind", "treatment"),
        ("version", "1"),
        ("title", "Consent to treatment"),
        ("body", "I agree to be examined and treated."),
    ];
    assert_eq!(app.post_form("/settings/consents", &treatment).await.status(), 200);

    let mut su = app.database().superuser().await;
    let old = document_id(&mut su, "privacy_notice 2026-01").await;
    let res = app.get(&format!("/settings/consents/{old}")).await;
    assert_eq!(res.status(), 200, "the earlier version stays readable");
    assert!(res.text().await.expect("page").contains("The text of privacy_notice version 2026-01."));
    let published: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE organization_id = $1 AND resource_type = 'consent_document'
            AND action = 'create' AND details -> 'after' ->> 'version' IN ('2027-01', '1')
            AND details -> 'after' ->> 'body_sha256' IS NOT NULL",
    )
    .bind(a.org)
    .fetch_one(&mut su)
    .await
    .expect("audit");
    assert_eq!(published, 2, "each publication audited once");

    // Nobody else's: another clinic's version is not found; the front desk is refused.
    let theirs: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM consent_documents WHERE organization_id = $1")
            .bind(b.org)
            .fetch_one(&mut su)
            .await
            .expect("b");
    let theirs = crate::workspace::ulid(theirs);
    assert_eq!(app.get(&format!("/settings/consents/{theirs}")).await.status(), 404);
    app.act_as(Some(a.desk_context()));
    assert_eq!(app.get("/settings/consents").await.status(), 403);
    assert_eq!(app.post_form("/settings/consents", &treatment).await.status(), 403);

    // The patient's next entry asks for the new notice and the treatment consent, not the
    // terms accepted before.
    app.act_as(None);
    let next = app.browser();
    assert_eq!(next.sign_in_fully(&person, &app.clock).await, "/consent");
    let page = next.get("/consent").await.text().await.expect("page");
    assert!(page.contains("Notice, second edition") && page.contains("Consent to treatment"), "{page}");
    assert!(!page.contains("terms_of_service 1"), "{page}");
    let ids = ticked(&page);
    assert_eq!(ids.len(), 2);
    let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("accept", id.as_str())).collect();
    let token = next.csrf_token().await;
    fields.push(("csrf_token", &token));
    assert_eq!(
        next.client.post(next.url("/consent")).form(&fields).send().await.expect("accept").status(),
        303
    );
    let for_patient: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT c.patient_id FROM consents c JOIN consent_documents d ON d.id = c.document_id
          WHERE d.kind = 'treatment' AND c.user_id = $1",
    )
    .bind(person.id)
    .fetch_one(&mut su)
    .await
    .expect("treatment consent");
    assert_eq!(for_patient, Some(a.patients[0].as_uuid()), "given for the patient");
}

/// The platform's terms: a super admin publishes a version (audited, without a clinic);
/// clinic staff and an auditor are refused.
#[tokio::test]
async fn a_super_admin_publishes_the_terms_of_service() {
    use lockdev::auth::policy::PlatformRole;
    use lockdev::auth::session::ContextClaim;
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 0).await;
    publish(&app, None, "terms_of_service", "1").await;
    let admin = app.person("root@platform.example", "a long enough secret phrase").await;
    app.act_as(Some(crate::fixtures::signed_in(
        admin.id,
        ContextClaim::Platform { role: PlatformRole::SuperAdmin },
    )));
    let page = app.get("/platform/terms").await.text().await.expect("page");
    assert!(page.contains("terms_of_service 1") && page.contains("current"), "{page}");
    let terms =
        [("kind", "terms_of_service"), ("version", "2"), ("title", "Terms, 2027"), ("body", "New terms.")];
    let res = app.post_form("/platform/terms", &terms).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    assert!(page.contains("version 2 published") && page.contains("Terms, 2027"), "{page}");
    assert_eq!(app.post_form("/platform/terms", &terms).await.status(), 409);
    let mut su = app.database().superuser().await;
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE organization_id IS NULL AND actor_user_id = $1
            AND resource_type = 'consent_document' AND details -> 'after' ->> 'version' = '2'",
    )
    .bind(admin.id)
    .fetch_one(&mut su)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
    let id = document_id(&mut su, "Terms, 2027").await;
    assert_eq!(app.get(&format!("/platform/terms/{id}")).await.status(), 200);

    app.act_as(Some(tenants.a.admin_context()));
    assert_eq!(app.get("/platform/terms").await.status(), 403);
    app.act_as(Some(crate::fixtures::signed_in(
        admin.id,
        ContextClaim::Platform { role: PlatformRole::Auditor },
    )));
    assert_eq!(app.post_form("/platform/terms", &terms).await.status(), 403);
}
