//! The clinic's profile and locations: kept by the administrator, every mistake named next
//! to its field with what was typed kept, every change audited with before and after, and
//! nobody else's (another role's, another clinic's).

use reqwest::StatusCode;

use crate::workspace::{count, get, in_clinic, post, setup, ulid};

#[tokio::test]
async fn the_administrator_keeps_the_clinics_profile_and_locations() {
    let (app, tenants, _) = setup(0).await;
    let (a, b) = (&tenants.a, &tenants.b);
    app.act_as(Some(a.admin_context()));
    let (status, page) = get(&app, "/settings/profile").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Clinic profile and locations") && page.contains("No locations yet"), "{page}");

    // Mistakes: each named next to its field, nothing saved, what was typed kept.
    let wrong = [
        ("name", "Alpha Clinic"),
        ("tax_id", "12-34567"),
        ("address_line1", "1 Main St"),
        ("city", ""),
        ("state", "Mass"),
        ("postal_code", "0213"),
        ("phone", "12"),
    ];
    let (status, body) = post(&app, "/settings/profile", &wrong).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for message in ["Enter the EIN", "Choose the state from the list.", "Enter the ZIP code", "too short"] {
        assert!(body.contains(message), "{message}: {body}");
    }
    assert!(body.contains("value=\"12-34567\"") && body.contains("value=\"1 Main St\""), "kept: {body}");
    let unchanged = format!(
        "SELECT count(*) FROM organizations WHERE id = '{}' AND tax_id IS NULL AND address_line1 IS NULL",
        a.org.as_uuid()
    );
    assert_eq!(count(&app, &unchanged).await, 1);

    let right = [
        ("name", "Alpha Family Clinic"),
        ("tax_id", "12-3456789"),
        ("address_line1", "1 Main St"),
        ("address_line2", "Suite 200"),
        ("city", "Cambridge"),
        ("state", "ma"),
        ("postal_code", "02139-4307"),
        ("phone", "(617) 555-0100"),
    ];
    let (status, body) = post(&app, "/settings/profile", &right).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Clinic profile saved.") && body.contains("value=\"12-3456789\""), "{body}");
    let saved = format!(
        "SELECT count(*) FROM organizations WHERE id = '{}' AND name = 'Alpha Family Clinic' AND tax_id = '123456789'
            AND region = 'MA' AND postal_code = '02139-4307' AND phone = '+16175550100'",
        a.org.as_uuid()
    );
    assert_eq!(count(&app, &saved).await, 1);
    let audited = "SELECT count(*) FROM audit_events WHERE resource_type = 'organization' AND action = 'update'
                    AND details -> 'before' ->> 'name' = 'Alpha Clinic' AND details -> 'after' ->> 'name' = 'Alpha Family Clinic'";
    assert_eq!(count(&app, audited).await, 1, "before and after");

    // Locations: the address is required; a name is used once among those in use.
    let (status, body) = post(&app, "/settings/locations", &[("name", "Main Street")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Enter the street and number."), "{body}");
    let main = [
        ("name", "Main Street"),
        ("address_line1", "1 Main St"),
        ("city", "Cambridge"),
        ("state", "MA"),
        ("postal_code", "02139"),
    ];
    let (status, body) = post(&app, "/settings/locations", &main).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Main Street added.") && body.contains("1 Main St, Cambridge, MA 02139"), "{body}");
    let (status, body) = post(&app, "/settings/locations", &main).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body.contains("has that name already"), "{body}");
    let location = in_clinic(&app, a.org, "SELECT id FROM clinic_locations WHERE name = 'Main Street'", &[])
        .await
        .expect("location");
    let (status, body) = post(&app, &format!("/settings/locations/{}/close", ulid(location)), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Main Street is no longer listed."), "{body}");
    assert_eq!(
        post(&app, &format!("/settings/locations/{}/close", ulid(location)), &[]).await.0,
        StatusCode::NOT_FOUND
    );
    // Closed, its name is free again.
    assert_eq!(post(&app, "/settings/locations", &main).await.0, StatusCode::OK);

    // Another clinic's location: not found, untouched.
    let theirs = in_clinic(
        &app,
        b.org,
        "INSERT INTO clinic_locations (organization_id, name, address_line1, city, region, postal_code)
         VALUES ($1, 'B-SECRET site', '9 Elm St', 'Providence', 'RI', '02903') RETURNING id",
        &[&b.org.as_uuid()],
    )
    .await
    .expect("b's location");
    let (status, _) = post(&app, &format!("/settings/locations/{}/close", ulid(theirs)), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM clinic_locations WHERE closed_at IS NULL AND name = 'B-SECRET site'"
        )
        .await,
        1
    );
    let (_, page) = get(&app, "/settings/profile").await;
    assert!(!page.contains("B-SECRET"), "{page}");

    // Other roles: refused before anything is read or written.
    app.act_as(Some(a.desk_context()));
    assert_eq!(get(&app, "/settings/profile").await.0, StatusCode::FORBIDDEN);
    assert_eq!(post(&app, "/settings/profile", &right).await.0, StatusCode::FORBIDDEN);
}
