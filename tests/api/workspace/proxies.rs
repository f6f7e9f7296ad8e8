//! Proxies and their scopes.

use sqlx::Row;

use super::{get, in_clinic, post, setup};
use crate::fixtures::signed_in;

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

/// A clinic may keep giving proxies access to clinical records to its providers: then a
/// nurse is refused (nothing written) and a provider is not; by default, everyone who
/// manages proxies may. The setting is the clinic administrator's, on the settings page.
#[tokio::test]
async fn a_clinic_may_keep_clinical_proxy_access_to_its_providers() {
    use lockdev::auth::policy::StaffRole;

    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let proxies = format!("/patients/{patient}/proxies");
    let invite = |email: &'static str| {
        [("display_name", "A Parent"), ("email", email), ("relationship", "parent"), ("clinical", "1")]
    };
    let (nurse, _) = super::member(&app, a.org, StaffRole::ClinicalStaff).await;
    app.act_as(Some(nurse.clone()));
    let (status, body) = post(&app, &proxies, &invite("first.parent@home.example")).await;
    assert!(status.is_success() || status.is_redirection(), "by default a nurse may: {status} {body}");

    // The administrator keeps it to providers.
    let (admin, _) = super::member(&app, a.org, StaffRole::OrgAdmin).await;
    app.act_as(Some(admin));
    let (_, page) = get(&app, "/settings").await;
    assert!(page.contains("Who may give a proxy access to clinical records"), "{page}");
    let (status, body) = post(
        &app,
        "/settings",
        &[
            ("timezone", "America/New_York"),
            ("chart_access", "all_staff"),
            ("proxy_clinical_grants", "providers"),
            ("reminder_leads", "24"),
            ("window_start", "08:00"),
            ("window_end", "21:00"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#"value="providers" checked"#), "{body}");

    app.act_as(Some(nurse));
    let before = super::count(&app, "SELECT count(*) FROM patient_proxy_assignments").await;
    let (status, body) = post(&app, &proxies, &invite("second.parent@home.example")).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("only providers give a proxy access to clinical records"), "{body}");
    assert_eq!(
        super::count(&app, "SELECT count(*) FROM patient_proxy_assignments").await,
        before,
        "nothing written"
    );
    app.act_as(Some(a.provider_context()));
    let (status, body) = post(&app, &proxies, &invite("second.parent@home.example")).await;
    assert!(status.is_success() || status.is_redirection(), "a provider may: {status} {body}");
}
