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
