//! Invitations end to end, as people do them: an organization admin invites staff, the
//! front desk activates a patient's portal and grants a parent proxy access with scopes,
//! and a revoked proxy loses access on the very next request. Tokens are single-use,
//! expire after 72 hours and are stored hashed; the e-mails carry no patient data.

use chrono::TimeDelta;
use lockdev::db::ids::PatientId;

use crate::fixtures::{CANARY_A, two_tenants};
use crate::helpers::{Browser, Person, TestApp, spawn_app};
use crate::workspace::{get, in_clinic, post, setup, ulid};

struct Clinic {
    app: TestApp,
    patient: PatientId,
    admin: Browser,
    desk: Browser,
}

/// A clinic with an org admin and a front-desk member, both signed in.
async fn clinic() -> Clinic {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let admin_person = app.with_totp(app.person("admin@alpha.example", "quiet lake morning 42").await).await;
    let desk_person = app.with_totp(app.person("desk@alpha.example", "loud river evening 17").await).await;
    app.member(tenants.a.org, &admin_person, "org_admin").await;
    app.member(tenants.a.org, &desk_person, "admin_staff").await;
    let (admin, desk) = (app.browser(), app.browser());
    assert_eq!(admin.sign_in_fully(&admin_person, &app.clock).await, "/home");
    assert_eq!(desk.sign_in_fully(&desk_person, &app.clock).await, "/home");
    Clinic { patient: tenants.a.patients[0], app, admin, desk }
}

/// Follows an invitation link in a fresh browser and creates the account.
async fn accept_as_new(
    app: &TestApp,
    link: &str,
    name: &str,
    password: &str,
) -> (Browser, reqwest::Response) {
    let browser = app.browser();
    let res = browser.get(link).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/invite", "the token leaves the address bar");
    let page = browser.get("/invite").await.text().await.expect("page");
    assert!(page.contains("Choose a password"), "{page}");
    let res = browser.post_form("/invite/accept", &[("display_name", name), ("password", password)]).await;
    (browser, res)
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = $1")
        .bind(action)
        .fetch_one(&mut su)
        .await
        .expect("count")
}

#[tokio::test]
async fn an_admin_invites_staff_who_set_a_password_and_must_enrol_a_second_factor() {
    let Clinic { app, admin, .. } = clinic().await;
    let page = admin.get("/members").await.text().await.expect("members");
    assert!(page.contains("admin@alpha.example"));

    // Bad input: errors next to the fields, what was typed kept, nothing sent.
    let res =
        admin.post_form("/members/invite", &[("display_name", "Dr New"), ("email", "not-an-address")]).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.expect("page");
    assert!(page.contains("Enter an e-mail address") && page.contains("Choose at least one role"));
    assert!(page.contains("value=\"Dr New\""), "the name typed is kept");
    assert!(app.mailbox().await.is_empty());

    let res = admin
        .post_form(
            "/members/invite",
            &[("display_name", "Dr New"), ("email", "new.doc@alpha.example"), ("role", "provider")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("page").contains("Invitation sent to new.doc@alpha.example"));
    let mail = app.mailbox().await;
    let (_, subject, text) = mail.iter().find(|(to, _, _)| to == "new.doc@alpha.example").expect("mail");
    assert!(subject.contains("Alpha Clinic"), "{subject}");
    assert!(text.contains("Provider"), "the role is named: {text}");
    let link = app.link_sent_to("new.doc@alpha.example").await;

    // Stored hashed: the token in the link is nowhere in the database.
    let token = link.rsplit('/').next().expect("token");
    let mut su = app.database().superuser().await;
    let found: i64 =
        sqlx::query_scalar("SELECT count(*) FROM auth_tokens t WHERE t::text LIKE '%' || $1 || '%'")
            .bind(token)
            .fetch_one(&mut su)
            .await
            .expect("search");
    assert_eq!(found, 0);

    // A weak password is refused next to the field; a staff password needs 12.
    let (browser, res) = accept_as_new(&app, &link, "Dr New", "short pass").await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("page").contains("id=\"password-error\""));
    let res = browser
        .post_form(
            "/invite/accept",
            &[("display_name", "Dr Nadia New"), ("password", "a long and private phrase")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/mfa/enrol", "staff enrol a second factor before anything else");
    assert_eq!(browser.get("/workspace").await.status(), 303);

    // Used once.
    let again = app.browser();
    again.get(&link).await;
    assert_eq!(again.get("/invite").await.status(), 410);
    assert_eq!(audit_count(&app, "invitation_sent").await, 1);
    assert_eq!(audit_count(&app, "invitation_accepted").await, 1);

    // The member list shows them active with their role; the role can be changed.
    let page = admin.get("/members").await.text().await.expect("members");
    assert!(page.contains("Dr Nadia New"), "{page}");
}

async fn membership_status(app: &TestApp, email: &str) -> String {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar(
        "SELECT m.status FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1",
    )
    .bind(email)
    .fetch_one(&mut su)
    .await
    .expect("membership status")
}

#[tokio::test]
async fn an_invitation_can_be_cancelled_but_not_switched_on_by_the_admin() {
    let Clinic { app, admin, .. } = clinic().await;
    admin
        .post_form(
            "/members/invite",
            &[("display_name", "Maybe"), ("email", "maybe@alpha.example"), ("role", "provider")],
        )
        .await;
    let page = admin.get("/members").await.text().await.expect("members");
    assert!(page.contains("Cancel invitation"), "an invited member is offered cancellation");
    let marker = "/cancel-invitation";
    let row = page.find("maybe@alpha.example").expect("the invited row");
    let action = page[row..].find(marker).expect("an action") + row;
    let id = page[..action].rsplit('/').next().expect("membership id").to_owned();

    // Only the invited person can turn an invitation into access.
    let res = admin.post_form(&format!("/members/{id}/reactivate"), &[]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(membership_status(&app, "maybe@alpha.example").await, "invited");

    // Deactivating is for members; an invitation is cancelled, with the words for it.
    let res = admin.post_form(&format!("/members/{id}/deactivate"), &[]).await;
    assert_eq!(res.status(), 404);
    let first_link = app.link_sent_to("maybe@alpha.example").await;
    let res = admin.post_form(&format!("/members/{id}/cancel-invitation"), &[]).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    assert!(page.contains("Invitation to maybe@alpha.example cancelled."), "{page}");
    assert!(!page.contains("maybe@alpha.example</span>"), "the cancelled row leaves the list: {page}");
    assert_eq!(membership_status(&app, "maybe@alpha.example").await, "suspended");
    // Its link no longer works.
    let late = app.browser();
    late.get(&first_link).await;
    assert_eq!(late.get("/invite").await.status(), 410);

    // Invited again: the same row, open again, one new link; inviting twice is refused
    // (resend is for that), and resend mails a new link that replaces the last.
    let fields = [("display_name", "Maybe"), ("email", "maybe@alpha.example"), ("role", "provider")];
    assert_eq!(admin.post_form("/members/invite", &fields).await.status(), 200);
    assert_eq!(membership_status(&app, "maybe@alpha.example").await, "invited");
    let mut su = app.database().superuser().await;
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'maybe@alpha.example'",
    )
    .fetch_one(&mut su)
    .await
    .expect("count");
    assert_eq!(rows, 1, "no duplicate row");
    let res = admin.post_form("/members/invite", &fields).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("page").contains("Resend"));
    let second_link = app.link_sent_to("maybe@alpha.example").await;
    let res = admin.post_form(&format!("/members/{id}/resend"), &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("page").contains("Invitation sent again to maybe@alpha.example."));
    let third_link = app.link_sent_to("maybe@alpha.example").await;
    assert_ne!(second_link, third_link);
    let old = app.browser();
    old.get(&second_link).await;
    assert_eq!(old.get("/invite").await.status(), 410, "the resent link replaces the last");
    let new = app.browser();
    new.get(&third_link).await;
    assert_eq!(new.get("/invite").await.status(), 200);
}

#[tokio::test]
async fn an_invitation_expires_after_seventy_two_hours() {
    let Clinic { app, admin, .. } = clinic().await;
    admin
        .post_form(
            "/members/invite",
            &[("display_name", "Late"), ("email", "late@alpha.example"), ("role", "clinical_staff")],
        )
        .await;
    let link = app.link_sent_to("late@alpha.example").await;
    app.clock.advance(TimeDelta::hours(71));
    let early = app.browser();
    early.get(&link).await;
    assert_eq!(early.get("/invite").await.status(), 200, "still good at 71 hours");
    app.clock.advance(TimeDelta::hours(2));
    let late = app.browser();
    late.get(&link).await;
    assert_eq!(late.get("/invite").await.status(), 410);
    let res = late
        .post_form("/invite/accept", &[("display_name", "Late"), ("password", "a long and private phrase")])
        .await;
    assert_eq!(res.status(), 410);
}

#[tokio::test]
async fn the_front_desk_activates_a_patient_portal_without_patient_data_in_the_mail() {
    let Clinic { app, desk, patient, .. } = clinic().await;
    let page = desk.get(&format!("/patients/{patient}/access")).await;
    assert_eq!(page.status(), 200);
    let res = desk
        .post_form(&format!("/patients/{patient}/portal-invitation"), &[("email", "pat@home.example")])
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let mail = app.mailbox().await;
    let (_, subject, text) = mail.iter().find(|(to, _, _)| to == "pat@home.example").expect("mail");
    for secret in [CANARY_A, "Pat0", "Alpha Clinic"] {
        assert!(
            !subject.contains(secret) && !text.contains(secret),
            "{secret} in the invitation: {subject} {text}"
        );
    }
    let link = app.link_sent_to("pat@home.example").await;
    let (browser, res) = accept_as_new(&app, &link, "Pat Zero", "my own portal words").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/home", "a patient needs no second factor unless the clinic asks");
    let portal = browser.get("/portal").await;
    assert_eq!(portal.status(), 200);
    assert!(portal.text().await.expect("page").contains("Welcome, Pat0"));
}

#[tokio::test]
async fn a_proxy_gets_the_scopes_granted_and_loses_access_on_the_next_request_after_revocation() {
    let Clinic { app, desk, patient, .. } = clinic().await;
    let res = desk
        .post_form(
            &format!("/patients/{patient}/proxies"),
            &[
                ("display_name", "Parent One"),
                ("email", "parent@home.example"),
                ("relationship", "parent"),
                ("scheduling", "on"),
                ("messaging", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let mut su = app.database().superuser().await;
    let scopes: (bool, bool, bool, bool, String) = sqlx::query_as(
        "SELECT can_view_clinical, can_view_billing, can_schedule, can_message, status FROM patient_proxy_assignments WHERE patient_id = $1",
    )
    .bind(patient)
    .fetch_one(&mut su)
    .await
    .expect("assignment");
    assert_eq!(
        scopes,
        (false, false, true, true, "pending".into()),
        "the scopes chosen, pending until accepted"
    );
    let mail = app.mailbox().await;
    let (_, _, text) = mail.iter().find(|(to, _, _)| to == "parent@home.example").expect("mail");
    assert!(!text.contains("Pat0") && !text.contains(CANARY_A), "no patient data in the mail: {text}");

    let link = app.link_sent_to("parent@home.example").await;
    let (proxy, res) = accept_as_new(&app, &link, "Parent One", "caring for my child").await;
    assert_eq!(res.status(), 303);
    let portal = proxy.get("/portal").await;
    assert_eq!(portal.status(), 200);
    assert!(portal.text().await.expect("page").contains("Caring for Pat0"));

    // Revoked: the proxy's very next request is refused.
    let assignment: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM patient_proxy_assignments WHERE patient_id = $1")
            .bind(patient)
            .fetch_one(&mut su)
            .await
            .expect("id");
    let assignment = lockdev::db::ids::ProxyAssignmentId::from_uuid(assignment);
    let res = desk.post_form(&format!("/patients/{patient}/proxies/{assignment}/revoke"), &[]).await;
    assert_eq!(res.status(), 200);
    let after = proxy.get("/portal").await;
    assert_eq!(after.status(), 403);
    let body = after.text().await.expect("page");
    assert!(body.contains("access in this context has ended") && !body.contains("Pat0"));
}

#[tokio::test]
async fn a_person_who_already_has_an_account_signs_in_to_accept() {
    let Clinic { app, admin, .. } = clinic().await;
    let existing: Person =
        app.with_totp(app.person("existing@else.example", "quiet lake morning 42").await).await;
    admin
        .post_form(
            "/members/invite",
            &[("display_name", "Existing"), ("email", &existing.email), ("role", "clinical_staff")],
        )
        .await;
    let link = app.link_sent_to(&existing.email).await;
    let browser = app.browser();
    browser.get(&link).await;
    let page = browser.get("/invite").await.text().await.expect("page");
    assert!(page.contains("Sign in"), "{page}");
    browser.sign_in_fully(&existing, &app.clock).await;
    browser.get(&link).await;
    let res = browser.post_form("/invite/accept", &[]).await;
    assert_eq!(res.status(), 303);
    let contexts = browser.get("/contexts").await.text().await.expect("page");
    assert!(contexts.contains("Alpha Clinic"), "{contexts}");
}

/// One connection per request: an invitation finds or creates the person (platform work)
/// in the clinic's own transaction, and a sign-in step writes its session in its own, so
/// neither holds a second pooled connection while the first waits. With a pool of three,
/// twelve invitations and twelve sign-ins at once all succeed (before, each held one
/// connection and waited for another until the pool ran dry and answered 503).
#[tokio::test]
async fn parallel_invitations_and_sign_ins_never_starve_a_small_pool() {
    let app = spawn_app()
        .env("LOCKDEV_DB_MAX_CONNECTIONS", "3")
        .env("LOCKDEV_DB_ACQUIRE_TIMEOUT_MS", "3000")
        .env("LOCKDEV_RATE_LIMIT_PER_SECOND", "0")
        .env("LOCKDEV_TRUSTED_PROXIES", "127.0.0.1/32")
        .spawn()
        .await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    app.act_as(Some(tenants.a.admin_context()));
    let token = app.csrf_token().await;
    let invitations = (0..12).map(|n| {
        let app = &app;
        let token = token.clone();
        async move {
            let email = format!("parallel{n}@staff.example");
            app.client
                .post(app.url("/members/invite"))
                .form(&[
                    ("display_name", format!("Parallel {n}")),
                    ("email", email),
                    ("role", "clinical_staff".into()),
                    ("csrf_token", token),
                ])
                .send()
                .await
                .expect("request")
                .status()
        }
    });
    let statuses = futures_util::future::join_all(invitations).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let mut people = Vec::new();
    for n in 0..12 {
        people.push(app.person(&format!("patient{n}@home.example"), "a long enough phrase here").await);
    }
    let browsers: Vec<Browser> = people.iter().map(|_| app.browser()).collect();
    // Each from an address of its own (the sign-in limiter counts per address).
    let sign_ins = people.iter().zip(&browsers).enumerate().map(|(n, (person, browser))| async move {
        let ip = format!("10.9.0.{}", n + 1);
        let page = browser
            .client
            .get(browser.url("/sign-in"))
            .header("X-Forwarded-For", &ip)
            .send()
            .await
            .expect("page");
        let token = crate::helpers::csrf_from(&page.text().await.expect("body")).expect("token");
        browser
            .client
            .post(browser.url("/sign-in"))
            .header("X-Forwarded-For", &ip)
            .form(&[
                ("email", person.email.as_str()),
                ("password", person.password.as_str()),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .expect("sign-in")
            .status()
    });
    let statuses = futures_util::future::join_all(sign_ins).await;
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
}

#[tokio::test]
async fn inviting_an_address_that_has_an_account_shows_only_what_the_inviter_typed() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    // Someone who already has an account (a patient elsewhere, say) under their own name.
    let existing = app.person("zelda.existing@home.example", "a long enough phrase here").await;
    let mut su = app.database().superuser().await;
    sqlx::query("UPDATE users SET display_name = 'Zelda HIDDEN-NAME' WHERE id = $1")
        .bind(existing.id)
        .execute(&mut su)
        .await
        .expect("name");
    app.act_as(Some(a.admin_context()));
    let (status, body) = post(
        &app,
        "/members/invite",
        &[
            ("display_name", "Z. Newhire"),
            ("email", "Zelda.Existing@home.example"),
            ("role", "clinical_staff"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Z. Newhire"), "{body}");
    assert!(!body.contains("HIDDEN-NAME"), "the account's own name leaks: {body}");
    let (_, page) = get(&app, "/members").await;
    assert!(!page.contains("HIDDEN-NAME"), "{page}");
    // A proxy invitation the same way.
    app.act_as(Some(a.desk_context()));
    let patient = a.patients[0];
    let (status, body) = post(
        &app,
        &format!("/patients/{patient}/proxies"),
        &[
            ("display_name", "Z. Parent"),
            ("email", "zelda.existing@home.example"),
            ("relationship", "parent"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Z. Parent") && !body.contains("HIDDEN-NAME"), "{body}");
}

#[tokio::test]
async fn a_cancelled_invitation_shows_no_account_name_and_cannot_be_reactivated() {
    // Invitations are no oracle, also once cancelled; a cancelled invitation is not a
    // membership anyone accepted.
    let (app, tenants, _) = setup(0).await;
    let existing = app.person("yusuf.existing@elsewhere.example", "a long enough phrase here").await;
    let mut su = app.database().superuser().await;
    sqlx::query("UPDATE users SET display_name = 'Yusuf HIDDEN-NAME' WHERE id = $1")
        .bind(existing.id)
        .execute(&mut su)
        .await
        .expect("name");
    app.act_as(Some(tenants.a.admin_context()));
    let fields = [
        ("display_name", "Y. Typed"),
        ("email", "yusuf.existing@elsewhere.example"),
        ("role", "admin_staff"),
    ];
    assert_eq!(post(&app, "/members/invite", &fields).await.0, 200);
    let membership = in_clinic(
        &app,
        tenants.a.org,
        "SELECT id FROM memberships WHERE user_id = $1",
        &[&existing.id.as_uuid()],
    )
    .await
    .expect("membership");
    let (status, page) = post(&app, &format!("/members/{}/cancel-invitation", ulid(membership)), &[]).await;
    assert_eq!(status, 200, "{page}");
    let (_, page) = get(&app, "/members").await;
    assert!(!page.contains("Y. Typed"), "a cancelled invitation leaves the list: {page}");
    assert!(!page.contains("HIDDEN-NAME"), "the account's own name leaks once cancelled: {page}");
    let (status, _) = post(&app, &format!("/members/{}/reactivate", ulid(membership)), &[]).await;
    assert_eq!(status, 404, "a cancelled invitation does not become a membership");
    let state: String = sqlx::query_scalar("SELECT status FROM memberships WHERE id = $1")
        .bind(membership)
        .fetch_one(&mut su)
        .await
        .expect("status");
    assert_eq!(state, "suspended");
}

#[tokio::test]
async fn nobody_invites_themselves_or_changes_their_own_role() {
    let (app, tenants, _) = setup(1).await;
    let mut su = app.database().superuser().await;
    let email = |user: lockdev::db::ids::UserId| {
        sqlx::query_scalar::<_, String>("SELECT email::text FROM users WHERE id = $1").bind(user.as_uuid())
    };
    let admin_email = email(tenants.a.admin_user).fetch_one(&mut su).await.expect("email");
    app.act_as(Some(tenants.a.admin_context()));
    let fields = [("display_name", "Me Again"), ("email", admin_email.as_str()), ("role", "provider")];
    let (status, body) = post(&app, "/members/invite", &fields).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("You cannot invite yourself."), "{body}");
    let own = in_clinic(
        &app,
        tenants.a.org,
        "SELECT id FROM memberships WHERE user_id = $1",
        &[&tenants.a.admin_user.as_uuid()],
    )
    .await
    .expect("own membership");
    let (_, body) = post(&app, &format!("/members/{}/role", ulid(own)), &[("role", "provider")]).await;
    assert!(body.contains("your own"), "refused with a reason: {body}");
    let role: String = sqlx::query_scalar("SELECT role FROM memberships WHERE id = $1")
        .bind(own)
        .fetch_one(&mut su)
        .await
        .expect("role");
    assert_eq!(role, "org_admin");

    // Nor into a chart: not as its patient, not as its proxy.
    app.act_as(Some(tenants.a.desk_context()));
    let desk_email = email(tenants.a.desk_user).fetch_one(&mut su).await.expect("email");
    let patient = tenants.a.patients[0];
    let (status, body) =
        post(&app, &format!("/patients/{patient}/portal-invitation"), &[("email", desk_email.as_str())])
            .await;
    assert_eq!(status, 422, "{body}");
    let proxy = [("display_name", "Me"), ("email", desk_email.as_str()), ("relationship", "parent")];
    let (status, body) = post(&app, &format!("/patients/{patient}/proxies"), &proxy).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("You cannot invite yourself."), "{body}");
    let grants: i64 =
        sqlx::query_scalar("SELECT count(*) FROM patient_proxy_assignments WHERE proxy_user_id = $1")
            .bind(tenants.a.desk_user.as_uuid())
            .fetch_one(&mut su)
            .await
            .expect("grants");
    assert_eq!(grants, 0);
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar(sql).fetch_one(&mut su).await.expect(sql)
}

/// The membership (or request) id named in SQL, as the pages spell ids.
async fn id_of(app: &TestApp, sql: &str) -> String {
    let mut su = app.database().superuser().await;
    let id: uuid::Uuid = sqlx::query_scalar(sql).fetch_one(&mut su).await.expect(sql);
    ulid(id)
}

#[tokio::test]
async fn an_administrator_resets_a_members_second_factor_and_a_second_administrator_approves_their_own() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let org = tenants.a.org;
    let admin_person = app.with_totp(app.person("admin@alpha.example", "quiet lake morning 42").await).await;
    let desk_person = app.with_totp(app.person("desk@alpha.example", "loud river evening 17").await).await;
    app.member(org, &admin_person, "org_admin").await;
    app.member(org, &desk_person, "admin_staff").await;
    let (admin, desk) = (app.browser(), app.browser());
    assert_eq!(admin.sign_in_fully(&admin_person, &app.clock).await, "/home");
    assert_eq!(desk.sign_in_fully(&desk_person, &app.clock).await, "/home");
    let factors = |email: &str| {
        format!(
            "SELECT count(*) FROM totp_credentials t JOIN users u ON u.id = t.user_id WHERE u.email = '{email}'"
        )
    };
    let membership = |email: &str, role: &str| {
        format!(
            "SELECT m.id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = '{email}' AND m.role = '{role}'"
        )
    };
    assert_eq!(scalar(&app, &factors("desk@alpha.example")).await, 1);

    // Someone else's: reset at once, their sessions end, they are told, it is recorded.
    let page = admin.get("/members").await.text().await.expect("members");
    assert!(page.contains("Reset the second factor of"), "{page}");
    let desk_id = id_of(&app, &membership("desk@alpha.example", "admin_staff")).await;
    let res = admin.post_form(&format!("/members/{desk_id}/reset-factor"), &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("page").contains("second factor is reset"));
    assert_eq!(scalar(&app, &factors("desk@alpha.example")).await, 0);
    assert_ne!(desk.get("/home").await.status(), 200, "the desk's session ended");
    let mail = app.mailbox().await;
    assert!(
        mail.iter()
            .any(|(to, _, text)| to == "desk@alpha.example" && text.contains("reset by an administrator")),
        "{mail:?}"
    );
    assert_eq!(audit_count(&app, "mfa_removed").await, 1);
    // A role change is recorded with the role before and after.
    let res = admin.post_form(&format!("/members/{desk_id}/role"), &[("role", "clinical_staff")]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("page").contains("Role changed."));
    let recorded = "SELECT count(*) FROM audit_events WHERE resource_type = 'membership' AND action = 'update'
                     AND details -> 'before' ->> 'role' = 'admin_staff' AND details -> 'after' ->> 'role' = 'clinical_staff'";
    assert_eq!(scalar(&app, recorded).await, 1);

    // Their own: refused, and asked for instead (with a reason).
    let own = id_of(&app, &membership("admin@alpha.example", "org_admin")).await;
    let res = admin.post_form(&format!("/members/{own}/reset-factor"), &[]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("page").contains("cannot reset your own"));
    assert_eq!(scalar(&app, &factors("admin@alpha.example")).await, 1);
    let res = admin.post_form("/members/requests", &[("kind", "own_factor_reset"), ("reason", "  ")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("page").contains("Say why"));
    let role = [("kind", "own_role"), ("role", "provider"), ("reason", "Seeing patients on Saturdays")];
    assert_eq!(admin.post_form("/members/requests", &role).await.status(), 200);
    assert_eq!(admin.post_form("/members/requests", &role).await.status(), 409, "asked already");
    let reset = [("kind", "own_factor_reset"), ("reason", "Lost my phone")];
    assert_eq!(admin.post_form("/members/requests", &reset).await.status(), 200);
    let request =
        |kind: &str| format!("SELECT id FROM member_approvals WHERE kind = '{kind}' AND status = 'pending'");
    let role_request = id_of(&app, &request("own_role")).await;
    let reset_request = id_of(&app, &request("own_factor_reset")).await;
    // The one who asked never approves.
    let res = admin.post_form(&format!("/members/requests/{role_request}/approve"), &[]).await;
    assert_eq!(res.status(), 404);
    assert_eq!(scalar(&app, "SELECT count(*) FROM memberships WHERE role = 'provider' AND user_id IN (SELECT id FROM users WHERE email = 'admin@alpha.example')").await, 0);

    // A second administrator does: the role is theirs at once, the reset ends their sessions.
    let second_person = app.with_totp(app.person("second@alpha.example", "calm hill noon 33").await).await;
    app.member(org, &second_person, "org_admin").await;
    let second = app.browser();
    assert_eq!(second.sign_in_fully(&second_person, &app.clock).await, "/home");
    let page = second.get("/members").await.text().await.expect("members");
    assert!(page.contains("Seeing patients on Saturdays") && page.contains("Approve"), "{page}");
    let res = second.post_form(&format!("/members/requests/{role_request}/approve"), &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("page").contains("now has the Provider role here as well"));
    let status: String = {
        let mut su = app.database().superuser().await;
        let sql = membership("admin@alpha.example", "provider").replace("SELECT m.id", "SELECT m.status");
        sqlx::query_scalar(&sql).fetch_one(&mut su).await.expect("status")
    };
    assert_eq!(status, "active");
    assert_eq!(
        second.post_form(&format!("/members/requests/{role_request}/approve"), &[]).await.status(),
        404
    );
    let res = second.post_form(&format!("/members/requests/{reset_request}/approve"), &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(scalar(&app, &factors("admin@alpha.example")).await, 0);
    assert_ne!(admin.get("/members").await.status(), 200, "the first administrator's sessions ended");
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM member_approvals WHERE status = 'approved' AND decided_by <> requested_by"
        )
        .await,
        2
    );
    // A deactivated administrator's request waits for nobody: it leaves the list and
    // cannot be approved.
    let mut su = app.database().superuser().await;
    sqlx::query(
        "INSERT INTO member_approvals (organization_id, kind, requested_by, role, reason)
         SELECT $1, 'own_role', id, 'clinical_staff', 'Rooming on busy days' FROM users WHERE email = 'admin@alpha.example'",
    )
    .bind(org.as_uuid())
    .execute(&mut su)
    .await
    .expect("request");
    let late = id_of(&app, &request("own_role")).await;
    let page = second.get("/members").await.text().await.expect("members");
    assert!(page.contains("Rooming on busy days"), "listed while its asker administers: {page}");
    let admin_membership = id_of(&app, &membership("admin@alpha.example", "org_admin")).await;
    assert_eq!(second.post_form(&format!("/members/{admin_membership}/deactivate"), &[]).await.status(), 200);
    let recorded = "SELECT count(*) FROM audit_events WHERE resource_type = 'membership' AND action = 'update'
                     AND details -> 'before' ->> 'status' = 'active' AND details -> 'after' ->> 'status' = 'suspended'";
    assert_eq!(scalar(&app, recorded).await, 1);
    let page = second.get("/members").await.text().await.expect("members");
    assert!(!page.contains("Rooming on busy days"), "{page}");
    assert_eq!(second.post_form(&format!("/members/requests/{late}/approve"), &[]).await.status(), 404);
    // The database holds the rule too.
    let own_decision = sqlx::query(
        "UPDATE member_approvals SET status = 'declined', decided_by = requested_by, decided_at = now() WHERE kind = 'own_role'",
    )
    .execute(&mut su)
    .await;
    assert!(own_decision.is_err(), "nobody decides their own request");
}

#[tokio::test]
async fn a_member_who_works_at_another_clinic_too_is_left_to_platform_support() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let admin_person = app.with_totp(app.person("admin@alpha.example", "quiet lake morning 42").await).await;
    let both = app.with_totp(app.person("both@alpha.example", "loud river evening 17").await).await;
    app.member(tenants.a.org, &admin_person, "org_admin").await;
    app.member(tenants.a.org, &both, "provider").await;
    app.member(tenants.b.org, &both, "provider").await;
    let admin = app.browser();
    assert_eq!(admin.sign_in_fully(&admin_person, &app.clock).await, "/home");
    let id = id_of(
        &app,
        &format!(
            "SELECT m.id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'both@alpha.example' AND m.organization_id = '{}'",
            tenants.a.org.as_uuid()
        ),
    )
    .await;
    let res = admin.post_form(&format!("/members/{id}/reset-factor"), &[]).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.expect("page").contains("Platform support resets"));
    assert_eq!(
        scalar(&app, "SELECT count(*) FROM totp_credentials t JOIN users u ON u.id = t.user_id WHERE u.email = 'both@alpha.example'").await,
        1
    );
    // Another clinic's membership id: not found.
    let other = id_of(
        &app,
        &format!(
            "SELECT m.id FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = 'both@alpha.example' AND m.organization_id = '{}'",
            tenants.b.org.as_uuid()
        ),
    )
    .await;
    assert_eq!(admin.post_form(&format!("/members/{other}/reset-factor"), &[]).await.status(), 404);
}
