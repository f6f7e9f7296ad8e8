//! The platform console's clinics (super admin): the list with counts and no patient
//! data, a new clinic whose first administrator accepts the invitation and runs it, and
//! suspension (nobody enters, open sessions end, jobs wait, data kept) and restoring.

use lockdev::auth::policy::PlatformRole;
use lockdev::auth::session::ContextClaim;
use lockdev::db::ids::UserId;
use reqwest::StatusCode;

use crate::fixtures::{signed_in, two_tenants};
use crate::helpers::{TestApp, spawn_app};
use crate::workspace::{count, get, post};

/// A person holding the super admin role, acting in it.
async fn super_admin(app: &TestApp) -> UserId {
    let person = app.person("root@platform.example", "a long enough secret phrase").await;
    let mut su = app.database().superuser().await;
    sqlx::query("INSERT INTO platform_roles (user_id, role) VALUES ($1, 'super_admin')")
        .bind(person.id)
        .execute(&mut su)
        .await
        .expect("role");
    app.act_as(Some(signed_in(person.id, ContextClaim::Platform { role: PlatformRole::SuperAdmin })));
    person.id
}

#[tokio::test]
async fn a_super_admin_creates_a_clinic_whose_first_administrator_accepts_and_runs_it() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 2).await;
    let root = super_admin(&app).await;

    let (status, page) = get(&app, "/platform/clinics").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Alpha Clinic") && page.contains("Bravo Clinic"), "{page}");
    assert!(page.contains("<td>2</td>"), "patients counted: {page}");

    // Mistakes named next to their fields, with what was typed kept.
    let wrong = [
        ("name", " "),
        ("timezone", "Mars/Olympus"),
        ("admin_name", "Grace Admin"),
        ("admin_email", "grace"),
    ];
    let (status, page) = post(&app, "/platform/clinics", &wrong).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("Enter the clinic&#39;s name") && page.contains("Choose the clinic&#39;s timezone"),
        "{page}"
    );
    assert!(page.contains("value=\"Grace Admin\""), "{page}");
    let (status, page) = post(
        &app,
        "/platform/clinics",
        &[
            ("name", "Alpha Clinic"),
            ("timezone", "America/Chicago"),
            ("admin_name", "A"),
            ("admin_email", "a@x.example"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a second clinic of a name is asked about");
    assert!(page.contains("exists already") && page.contains("name=\"same_name\""), "{page}");
    let (status, _) = post(
        &app,
        "/platform/clinics",
        &[
            ("name", "Gamma"),
            ("timezone", "America/Chicago"),
            ("admin_name", "Me"),
            ("admin_email", "root@platform.example"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not the platform administrator themselves");

    let right = [
        ("name", "Gamma Health"),
        ("timezone", "America/Chicago"),
        ("admin_name", "Grace Admin"),
        ("admin_email", "grace@gamma.example"),
    ];
    let (status, page) = post(&app, "/platform/clinics", &right).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Gamma Health created.") && page.contains("Gamma Health"), "{page}");
    let audited = format!(
        "SELECT count(*) FROM audit_events WHERE organization_id IS NULL AND actor_user_id = '{}'
            AND resource_type = 'organization' AND action = 'create' AND details -> 'after' ->> 'name' = 'Gamma Health'",
        root.as_uuid()
    );
    assert_eq!(count(&app, &audited).await, 1);

    // The first administrator accepts and runs the clinic.
    app.act_as(None);
    app.run_jobs().await;
    let link = app.link_sent_to("grace@gamma.example").await;
    let browser = app.browser();
    assert_eq!(browser.get(&link).await.status(), 303);
    let res = browser
        .post_form(
            "/invite/accept",
            &[("display_name", "Grace Admin"), ("password", "a long and private phrase")],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap_or_default());
    let active = "SELECT count(*) FROM memberships m JOIN organizations o ON o.id = m.organization_id
                   WHERE o.name = 'Gamma Health' AND o.timezone = 'America/Chicago' AND m.role = 'org_admin'
                     AND m.status = 'active' AND m.accepted_at IS NOT NULL";
    assert_eq!(count(&app, active).await, 1);
    let mut su = app.database().superuser().await;
    let (gamma, grace): (lockdev::db::ids::OrganizationId, UserId) = sqlx::query_as(
        "SELECT m.organization_id, m.user_id FROM memberships m JOIN organizations o ON o.id = m.organization_id
          WHERE o.name = 'Gamma Health'",
    )
    .fetch_one(&mut su)
    .await
    .expect("membership");
    app.act_as(Some(signed_in(
        grace,
        ContextClaim::Staff { organization_id: gamma, role: lockdev::auth::policy::StaffRole::OrgAdmin },
    )));
    let (status, page) = get(&app, "/members").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Grace Admin"), "{page}");
    assert!(!page.contains("Alpha"), "nothing of another clinic: {page}");
    assert_eq!(get(&app, "/settings/profile").await.0, StatusCode::OK);

    // She invites a provider, who accepts; she creates their provider profile and a visit
    // type; the provider registers a patient and books them with themselves.
    let invite = [("display_name", "Dr Ada Lin"), ("email", "ada@gamma.example"), ("role", "provider")];
    let (status, page) = post(&app, "/members/invite", &invite).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let as_grace = || {
        Some(signed_in(
            grace,
            ContextClaim::Staff { organization_id: gamma, role: lockdev::auth::policy::StaffRole::OrgAdmin },
        ))
    };
    app.act_as(None);
    let link = app.link_sent_to("ada@gamma.example").await;
    let ada_browser = app.browser();
    assert_eq!(ada_browser.get(&link).await.status(), 303);
    let accepted = ada_browser
        .post_form(
            "/invite/accept",
            &[("display_name", "Dr Ada Lin"), ("password", "another long private phrase")],
        )
        .await;
    assert_eq!(accepted.status(), 303);
    let (membership, ada): (uuid::Uuid, UserId) = sqlx::query_as(
        "SELECT m.id, m.user_id FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE u.email = 'ada@gamma.example' AND m.status = 'active'",
    )
    .fetch_one(&mut su)
    .await
    .expect("the provider's membership");
    app.act_as(as_grace());
    let membership = lockdev::db::ids::MembershipId::from_uuid(membership);
    let profile = [("npi", "1234567893"), ("credentials", "MD"), ("specialty", "Family medicine")];
    let (status, page) = post(&app, &format!("/members/{membership}/profile/provider"), &profile).await;
    assert!(status.is_success() || status.is_redirection(), "{status}: {page}");
    let (status, page) =
        post(&app, "/schedule/setup/types", &[("name", "Visit"), ("duration_minutes", "30")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (provider, kind): (uuid::Uuid, uuid::Uuid) = sqlx::query_as(
        "SELECT p.id, t.id FROM providers p JOIN appointment_types t ON t.organization_id = p.organization_id
          WHERE p.user_id = $1",
    )
    .bind(ada)
    .fetch_one(&mut su)
    .await
    .expect("provider profile and visit type");
    app.act_as(Some(signed_in(
        ada,
        ContextClaim::Staff { organization_id: gamma, role: lockdev::auth::policy::StaffRole::Provider },
    )));
    let register = [
        ("given_name", "Noor"),
        ("family_name", "Haddad"),
        ("date_of_birth", "1990-05-06"),
        ("legal_sex", "female"),
    ];
    let res = app.post_form("/patients", &register).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap_or_default());
    let chart = res.headers()["location"].to_str().expect("ascii").to_owned();
    let monday = crate::workspace::next_monday().to_string();
    let visit = [
        ("provider_id", ulid::Ulid::from(provider).to_string()),
        ("type_id", ulid::Ulid::from(kind).to_string()),
        ("date", monday),
        ("time", "10:00".to_owned()),
        ("outside_hours", "1".to_owned()),
        ("reason", "New patient".to_owned()),
    ];
    let visit: Vec<(&str, &str)> = visit.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, page) = post(&app, &format!("{chart}/appointments"), &visit).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let booked = format!(
        "SELECT count(*) FROM appointments WHERE organization_id = '{}' AND provider_id = '{provider}'",
        gamma.as_uuid()
    );
    assert_eq!(count(&app, &booked).await, 1, "the new clinic's provider is booked");
    app.act_as(as_grace());

    // Nobody but a super admin: a clinic administrator and an auditor are refused.
    app.act_as(Some(tenants.a.admin_context()));
    assert_eq!(get(&app, "/platform/clinics").await.0, StatusCode::FORBIDDEN);
    app.act_as(Some(signed_in(root, ContextClaim::Platform { role: PlatformRole::Auditor })));
    assert_eq!(post(&app, "/platform/clinics", &right).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_suspended_clinic_lets_nobody_in_holds_its_jobs_and_keeps_its_data_until_restored() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let (a, b) = (&tenants.a, &tenants.b);
    let desk = app.with_totp(app.person("desk@alpha.example", "a long enough secret phrase").await).await;
    app.member(a.org, &desk, "admin_staff").await;
    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&desk, &app.clock).await, "/home");
    assert_eq!(browser.get("/patients").await.status(), StatusCode::OK);

    super_admin(&app).await;
    let alpha = a.org.to_string();
    let (status, page) = post(&app, &format!("/platform/clinics/{alpha}/suspend"), &[("reason", " ")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Say why the clinic is suspended"), "{page}");
    let (status, page) = post(
        &app,
        &format!("/platform/clinics/{alpha}/suspend"),
        &[("reason", "Unpaid invoices since March")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Alpha Clinic is suspended") && page.contains("Unpaid invoices since March"),
        "{page}"
    );
    assert_eq!(
        post(&app, &format!("/platform/clinics/{alpha}/suspend"), &[("reason", "again")]).await.0,
        StatusCode::NOT_FOUND,
        "only an active clinic is suspended"
    );

    // The open session ends at its next request; a new sign-in is told why.
    app.act_as(None);
    assert_ne!(browser.get("/patients").await.status(), StatusCode::OK);
    let again = app.browser();
    let landed = again.sign_in_fully(&desk, &app.clock).await;
    let page = again.get(&landed).await.text().await.expect("page");
    let page = if page.contains("Continue as") {
        page
    } else {
        again.get("/contexts").await.text().await.expect("page")
    };
    assert!(page.contains("Alpha Clinic is suspended on Lockdev"), "{page}");
    app.act_as(Some(b.desk_context()));
    assert_eq!(get(&app, "/patients").await.0, StatusCode::OK, "another clinic is untouched");

    // Its jobs wait; its data stays.
    let mut su = app.database().superuser().await;
    let job: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO jobs (organization_id, kind, run_at) VALUES ($1, 'licences.tasks', '2000-01-01') RETURNING id",
    )
    .bind(a.org)
    .fetch_one(&mut su)
    .await
    .expect("job");
    app.run_jobs().await;
    assert_eq!(job_state(&mut su, job).await, "queued");
    let patients: i64 = sqlx::query_scalar("SELECT count(*) FROM patients WHERE organization_id = $1")
        .bind(a.org)
        .fetch_one(&mut su)
        .await
        .expect("patients");
    assert_eq!(patients, 1);

    // Restored: the job runs, people enter again; both changes audited.
    super_admin_again(&app, &mut su).await;
    let (status, page) = post(&app, &format!("/platform/clinics/{alpha}/restore"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    app.run_jobs().await;
    assert_eq!(job_state(&mut su, job).await, "done");
    app.act_as(None);
    let back = app.browser();
    assert_eq!(back.sign_in_fully(&desk, &app.clock).await, "/home");
    assert_eq!(back.get("/patients").await.status(), StatusCode::OK);
    let audited =
        "SELECT count(*) FROM audit_events WHERE organization_id IS NULL AND resource_type = 'organization'
                    AND purpose IN ('platform_clinics.suspend', 'platform_clinics.restore')";
    assert_eq!(count(&app, audited).await, 2);
}

/// Acts again as the super admin created by [`super_admin`].
async fn super_admin_again(app: &TestApp, su: &mut sqlx::PgConnection) {
    let id: UserId = sqlx::query_scalar("SELECT user_id FROM platform_roles WHERE role = 'super_admin'")
        .fetch_one(su)
        .await
        .expect("root");
    app.act_as(Some(signed_in(id, ContextClaim::Platform { role: PlatformRole::SuperAdmin })));
}

async fn job_state(su: &mut sqlx::PgConnection, job: uuid::Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1").bind(job).fetch_one(su).await.expect("state")
}

#[tokio::test]
async fn a_super_admin_grants_and_revokes_platform_roles_but_never_their_own() {
    let app = spawn_app().spawn().await;
    let root = super_admin(&app).await;
    let ada = app.person("ada@platform.example", "a long enough secret phrase").await;
    let live = |user: UserId, role: &str| {
        format!(
            "SELECT count(*) FROM platform_roles WHERE user_id = '{}' AND role = '{role}' AND revoked_at IS NULL",
            user.as_uuid()
        )
    };

    let (status, page) = get(&app, "/platform/roles").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("root@platform.example") && page.contains("Platform support"), "{page}");
    assert!(!page.contains("/revoke"), "one's own grant offers no revoke: {page}");

    // A stale proof of identity is asked again, and nothing changes.
    let mut stale = signed_in(root, ContextClaim::Platform { role: PlatformRole::SuperAdmin });
    stale.reauthenticated_at = chrono::Utc::now() - chrono::TimeDelta::minutes(30);
    app.act_as(Some(stale));
    let (status, _) =
        post(&app, "/platform/roles", &[("email", "ada@platform.example"), ("role", "auditor")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "confirm it is you first");
    assert_eq!(count(&app, &live(ada.id, "auditor")).await, 0);
    app.act_as(Some(signed_in(root, ContextClaim::Platform { role: PlatformRole::SuperAdmin })));

    // Mistakes next to their fields; never to oneself; only to an existing open account.
    let (status, page) = post(&app, "/platform/roles", &[("email", "ada"), ("role", "king")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Choose the role to grant.") && page.contains("value=\"ada\""), "{page}");
    let (status, page) =
        post(&app, "/platform/roles", &[("email", "nobody@platform.example"), ("role", "auditor")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("No open account signs in with that address"), "{page}");
    let (status, page) =
        post(&app, "/platform/roles", &[("email", "root@platform.example"), ("role", "auditor")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Nobody grants themselves a platform role"), "{page}");
    assert_eq!(count(&app, &live(root, "auditor")).await, 0);

    // Granted: recorded with who granted it, audited, and the person told.
    let (status, page) =
        post(&app, "/platform/roles", &[("email", "ADA@platform.example"), ("role", "auditor")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("is now a Compliance auditor"), "{page}");
    let granted_by = format!(
        "SELECT count(*) FROM platform_roles WHERE user_id = '{}' AND granted_by = '{}' AND revoked_at IS NULL",
        ada.id.as_uuid(),
        root.as_uuid()
    );
    assert_eq!(count(&app, &granted_by).await, 1);
    let (status, page) =
        post(&app, "/platform/roles", &[("email", "ada@platform.example"), ("role", "auditor")]).await;
    assert_eq!(status, StatusCode::CONFLICT, "held already: {page}");
    let audited = format!(
        "SELECT count(*) FROM audit_events WHERE organization_id IS NULL AND actor_user_id = '{}'
            AND resource_type = 'platform_role' AND details -> 'after' ->> 'user' = '{}'",
        root.as_uuid(),
        ada.id
    );
    assert_eq!(count(&app, &audited).await, 1);
    let mail = app.mailbox().await;
    assert!(
        mail.iter().any(|(to, _, text)| to == "ada@platform.example" && text.contains("Compliance auditor")),
        "{mail:?}"
    );

    // The database itself refuses: no direct write, and the functions check the caller.
    let runtime = app.database().runtime_pool().await;
    let system =
        |actor: Option<UserId>| lockdev::db::tenant::SystemContext { user_id: actor, ..Default::default() };
    let mut tx = lockdev::db::tenant::begin_system(&runtime, &system(Some(root))).await.expect("tx");
    let direct = sqlx::query("INSERT INTO platform_roles (user_id, role) VALUES ($1, 'super_admin')")
        .bind(ada.id)
        .execute(&mut *tx)
        .await;
    assert!(direct.is_err(), "the runtime role cannot write platform roles directly");
    drop(tx);
    for (actor, target) in [(ada.id, ada.id), (root, root)] {
        let mut tx = lockdev::db::tenant::begin_system(&runtime, &system(Some(actor))).await.expect("tx");
        let refused = sqlx::query("SELECT platform_role_grant($1, 'super_admin', now())")
            .bind(target)
            .execute(&mut *tx)
            .await
            .expect_err("an auditor grants nothing; a super admin nothing to themselves");
        assert_eq!(refused.as_database_error().and_then(|e| e.code()).as_deref(), Some("42501"));
    }

    // One's own grant cannot be revoked, another's can: at once, audited, told.
    let mut su = app.database().superuser().await;
    let own: uuid::Uuid = sqlx::query_scalar("SELECT id FROM platform_roles WHERE user_id = $1")
        .bind(root)
        .fetch_one(&mut su)
        .await
        .expect("own");
    let (status, _) = post(&app, &format!("/platform/roles/{own}/revoke"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(count(&app, &live(root, "super_admin")).await, 1);
    let theirs: uuid::Uuid = sqlx::query_scalar("SELECT id FROM platform_roles WHERE user_id = $1")
        .bind(ada.id)
        .fetch_one(&mut su)
        .await
        .expect("theirs");
    let (status, page) = post(&app, &format!("/platform/roles/{theirs}/revoke"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("is no longer a Compliance auditor") && page.contains("Recently ended"), "{page}");
    assert_eq!(count(&app, &live(ada.id, "auditor")).await, 0);
    assert_eq!(post(&app, &format!("/platform/roles/{theirs}/revoke"), &[]).await.0, StatusCode::NOT_FOUND);
    let mail = app.mailbox().await;
    assert!(mail.iter().any(|(to, _, text)| to == "ada@platform.example" && text.contains("was revoked")));

    // Nobody else reaches the page: an auditor and a clinic administrator are refused.
    app.act_as(Some(signed_in(root, ContextClaim::Platform { role: PlatformRole::Auditor })));
    assert_eq!(get(&app, "/platform/roles").await.0, StatusCode::FORBIDDEN);
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    app.act_as(Some(tenants.a.admin_context()));
    let grant = [("email", "ada@platform.example"), ("role", "super_admin")];
    assert_eq!(post(&app, "/platform/roles", &grant).await.0, StatusCode::FORBIDDEN);
    assert_eq!(count(&app, &live(ada.id, "super_admin")).await, 0);
}

#[tokio::test]
async fn the_health_page_shows_queues_dead_jobs_masked_and_each_chain_and_retries_a_dead_job() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let root = super_admin(&app).await;
    let mut su = app.database().superuser().await;
    let dead: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO jobs (organization_id, kind, state, attempts, max_attempts, run_at, finished_at, last_error)
         VALUES ($1, 'licences.tasks', 'dead', 8, 8, now(), now(),
                 'SES refused maria.lopez@example.com and +16175550123: throttled') RETURNING id",
    )
    .bind(tenants.a.org)
    .fetch_one(&mut su)
    .await
    .expect("dead job");
    sqlx::query(
        "INSERT INTO jobs (organization_id, kind, run_at) VALUES ($1, 'licences.tasks', '2000-01-01')",
    )
    .bind(tenants.b.org)
    .execute(&mut su)
    .await
    .expect("due job");
    // Audited reads in both clinics; one chain sealed and verified, the other not yet.
    for tenant in [&tenants.a, &tenants.b] {
        app.act_as(Some(tenant.desk_context()));
        assert_eq!(get(&app, &format!("/patients/{}", tenant.patients[0])).await.0, StatusCode::OK);
    }
    app.act_as(Some(signed_in(root, ContextClaim::Platform { role: PlatformRole::SuperAdmin })));
    let runtime = app.database().runtime_pool().await;
    use lockdev::audit::chain::{self, Chain};
    chain::seal(&runtime, Chain::Organization(tenants.a.org)).await.expect("seal");
    let report = chain::verify(&runtime, Chain::Organization(tenants.a.org)).await.expect("verify");
    assert!(report.problem.is_none() && report.sealed > 0, "{report:?}");
    let now = chrono::Utc::now();
    chain::record_verification(&runtime, &report, now, now, Some(root)).await.expect("record");

    let (status, page) = get(&app, "/platform/health").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("Alpha Clinic") && page.contains("Bravo Clinic") && page.contains("Platform"),
        "{page}"
    );
    assert!(page.contains("licences.tasks") && page.contains("8 of 8"), "{page}");
    assert!(page.contains("SES refused [address] and [number]: throttled"), "{page}");
    assert!(!page.contains("maria.lopez") && !page.contains("5550123"), "no address or number: {page}");
    assert!(page.contains(&format!("{} seals verified", report.sealed)), "{page}");
    assert!(page.contains("never verified"), "{page}");
    assert!(page.contains("waiting, the oldest for"), "Bravo's events wait for the sealer: {page}");

    // A dead job retried from the page (its id as the page writes it): due now, audited;
    // only once.
    let dead_id = lockdev::db::ids::JobId::from_uuid(dead);
    assert!(page.contains(&format!("/platform/health/jobs/{dead_id}/retry")), "{page}");
    let (status, page) = post(&app, &format!("/platform/health/jobs/{dead_id}/retry"), &[]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("The licences.tasks job is queued again"), "{page}");
    let state: (String, i32) = sqlx::query_as("SELECT state, attempts FROM jobs WHERE id = $1")
        .bind(dead)
        .fetch_one(&mut su)
        .await
        .expect("state");
    assert_eq!(state, ("queued".to_owned(), 0));
    let audited = format!(
        "SELECT count(*) FROM audit_events WHERE organization_id IS NULL AND resource_type = 'job'
            AND resource_id = '{dead}' AND actor_user_id = '{}'",
        root.as_uuid()
    );
    assert_eq!(count(&app, &audited).await, 1);
    assert_eq!(
        post(&app, &format!("/platform/health/jobs/{dead_id}/retry"), &[]).await.0,
        StatusCode::NOT_FOUND
    );

    // The database answers the chains only to platform staff.
    let mut tx = lockdev::db::tenant::begin_system(
        &runtime,
        &lockdev::db::tenant::SystemContext { user_id: Some(tenants.a.admin_user), ..Default::default() },
    )
    .await
    .expect("tx");
    let refused =
        sqlx::query("SELECT * FROM platform_audit_health()").execute(&mut *tx).await.expect_err("refused");
    assert_eq!(refused.as_database_error().and_then(|e| e.code()).as_deref(), Some("42501"));
    drop(tx);
    app.act_as(Some(tenants.a.admin_context()));
    assert_eq!(get(&app, "/platform/health").await.0, StatusCode::FORBIDDEN);
}
