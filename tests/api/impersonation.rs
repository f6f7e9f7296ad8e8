//! Impersonation (AZ-10): an administrator acts as a member of the same clinic in a role
//! below their own, with a reason, after step-up; every forbidden variant is refused; the
//! member's permissions apply; both people are on every audit event and row-history
//! entry; nothing about anyone's sign-in changes meanwhile; the session id changes at the
//! start and at the end.

use chrono::TimeDelta;
use reqwest::StatusCode;

use crate::fixtures::two_tenants;
use crate::helpers::spawn_app;
use crate::workspace::count;

#[tokio::test]
async fn an_administrator_acts_as_a_lower_member_only_recorded_with_both_and_changes_no_sign_in() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let a = &tenants.a;
    let p0 = a.patients[0];
    let admin = app.with_totp(app.person("grace@alpha.example", "a long enough secret phrase").await).await;
    let mut su = app.database().superuser().await;
    sqlx::query(
        "INSERT INTO memberships (organization_id, user_id, role, accepted_at) VALUES ($1, $2, 'org_admin', now())",
    )
    .bind(a.org)
    .bind(admin.id)
    .execute(&mut su)
    .await
    .expect("admin membership");
    sqlx::query("UPDATE memberships SET accepted_at = now() WHERE organization_id = $1")
        .bind(a.org)
        .execute(&mut su)
        .await
        .expect("accepted");
    let mut ids = Vec::new();
    for user in [admin.id, a.provider_user, a.admin_user, tenants.b.desk_user] {
        let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM memberships WHERE user_id = $1")
            .bind(user)
            .fetch_one(&mut su)
            .await
            .expect("membership");
        ids.push(lockdev::db::ids::MembershipId::from_uuid(id).to_string());
    }
    let [mine, provider, other_admin, elsewhere] = ids.try_into().expect("four");

    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&admin, &app.clock).await, "/home");
    let page = browser.get("/impersonation").await.text().await.expect("page");
    assert!(page.contains("an administrator, like you") && page.contains(&provider), "{page}");
    let act = |who: &str, reason: &str| vec![("membership", who.to_owned()), ("reason", reason.to_owned())];
    let send = |fields: Vec<(&'static str, String)>| {
        let browser = &browser;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post_form("/impersonation", &fields).await
        }
    };
    let why = "She cannot find the schedule of tomorrow";

    // Without a fresh proof of identity: asked for one.
    app.clock.advance(TimeDelta::minutes(6));
    let res = send(act(&provider, why)).await;
    assert_eq!(res.status(), 303);
    let res = browser
        .post_form("/account/reauthenticate", &[("password", &admin.password), ("next", "/impersonation")])
        .await;
    assert_eq!(res.status(), 303);
    // Each forbidden variant.
    assert_eq!(send(act(&mine, why)).await.status(), StatusCode::FORBIDDEN, "oneself");
    assert_eq!(send(act(&other_admin, why)).await.status(), StatusCode::FORBIDDEN, "not a lower role");
    assert_eq!(send(act(&elsewhere, why)).await.status(), StatusCode::NOT_FOUND, "another clinic's member");
    let res = send(act(&provider, "help")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "a reason");
    assert!(res.text().await.expect("page").contains("Say why you act as them"));
    assert_eq!(count(&app, "SELECT count(*) FROM impersonations").await, 0);

    // Started: a new session id, the member's home and permissions, a banner.
    let before = browser.session_cookie();
    let res = send(act(&provider, why)).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap_or_default());
    assert_ne!(browser.session_cookie(), before, "the session id is cycled at the start");
    let res = browser.get("/home").await;
    assert_eq!(res.headers()["location"], "/home/clinician", "the member's home");
    let page = browser.get("/home/clinician").await.text().await.expect("page");
    assert!(page.contains("You are acting as provider ALPHA-CANARY (Provider)"), "{page}");
    assert_eq!(
        browser.get("/members").await.status(),
        403,
        "the member's permissions, not the administrator's"
    );
    assert_eq!(browser.get(&format!("/patients/{p0}")).await.status(), 200);
    let res = browser
        .post_form(
            &format!("/patients/{p0}/allergies"),
            &[("substance", "Penicillin"), ("severity", "severe")],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    // Both people on the audit events and the row history.
    let both = format!(
        "SELECT count(*) FROM audit_events WHERE actor_user_id = '{}' AND acting_for_user_id = '{}' AND patient_id = '{}'",
        admin.id.as_uuid(),
        a.provider_user.as_uuid(),
        p0.as_uuid()
    );
    assert!(count(&app, &both).await >= 2, "the read and the write");
    let history = format!(
        "SELECT count(*) FROM row_history WHERE table_name = 'allergies' AND actor_user_id = '{}'
            AND acting_for_user_id = '{}'",
        admin.id.as_uuid(),
        a.provider_user.as_uuid()
    );
    assert_eq!(count(&app, &history).await, 1);

    // Nothing about anyone's sign-in changes, no other context, no nesting.
    for (path, fields) in [
        (
            "/account/password",
            vec![("current", admin.password.as_str()), ("password", "another long phrase here")],
        ),
        ("/account/email", vec![("email", "new@alpha.example")]),
        ("/account/totp/remove", vec![]),
        ("/contexts/select", vec![("context", "x")]),
        ("/impersonation", vec![("membership", provider.as_str()), ("reason", why)]),
    ] {
        assert_eq!(browser.post_form(path, &fields).await.status(), 403, "{path}");
    }

    // Ended: a new session id, the administrator's own context again, recorded.
    let before = browser.session_cookie();
    assert_eq!(browser.post_form("/impersonation/end", &[]).await.status(), 303);
    assert_ne!(browser.session_cookie(), before, "the session id is cycled at the end");
    assert_eq!(browser.get("/members").await.status(), 200);
    assert!(!browser.get("/members").await.text().await.expect("page").contains("You are acting as"));
    let ended = "SELECT count(*) FROM impersonations WHERE ended_at IS NOT NULL AND length(reason) > 10";
    assert_eq!(count(&app, ended).await, 1);
    let recorded = format!(
        "SELECT count(*) FROM audit_events WHERE action IN ('impersonation_started', 'impersonation_stopped')
            AND actor_user_id = '{}' AND acting_for_user_id = '{}'",
        admin.id.as_uuid(),
        a.provider_user.as_uuid()
    );
    assert_eq!(count(&app, &recorded).await, 2);
    let page = browser.get("/impersonation").await.text().await.expect("page");
    assert!(page.contains(why), "the clinic's record: {page}");
}
