//! Merging a duplicate chart: every row moves, the duplicate stays as a tombstone, the
//! merge is recorded; and no table that points at a patient is forgotten.

use std::collections::BTreeSet;

use lockdev::merges::{DERIVED_TABLES, KEPT_TABLES, MOVED_TABLES};

use super::{count, get, in_clinic, post, setup};

/// The merge names every table with a foreign key to `patients`: one added later and not
/// added to the merge fails here.
#[tokio::test]
async fn the_merge_moves_every_table_that_points_at_a_patient() {
    let app = crate::helpers::spawn_app().spawn().await;
    let mut su = app.database().superuser().await;
    let referencing: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c
          WHERE c.contype = 'f' AND c.confrelid = 'patients'::regclass
            AND c.conrelid NOT IN ('patients'::regclass, 'patient_merges'::regclass)",
    )
    .fetch_all(&mut su)
    .await
    .expect("catalog");
    let referencing: BTreeSet<String> = referencing.into_iter().collect();
    let handled: BTreeSet<String> = MOVED_TABLES
        .iter()
        .map(|(t, _)| (*t).to_owned())
        .chain(DERIVED_TABLES.iter().chain(KEPT_TABLES).map(|t| (*t).to_owned()))
        .collect();
    let forgotten: Vec<_> = referencing.difference(&handled).collect();
    assert!(
        forgotten.is_empty(),
        "tables pointing at patients that a merge would leave behind: {forgotten:?}"
    );
    let unknown: Vec<_> = handled.difference(&referencing).collect();
    assert!(unknown.is_empty(), "the merge names tables that do not point at patients: {unknown:?}");
}

#[tokio::test]
async fn the_front_desk_merges_a_duplicate_after_comparing_and_everything_moves() {
    let (app, tenants, kind) = setup(2).await;
    let a = &tenants.a;
    let (survivor, duplicate) = (a.patients[0], a.patients[1]);
    let org = a.org.as_uuid();
    let d = duplicate.as_uuid();
    // The duplicate's record: a visit, a signed note, the clinical lists, coverage that
    // collides with the survivor's, a contact and an emergency contact.
    for sql in [
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
         VALUES ($1, $2, (SELECT id FROM providers LIMIT 1), $3, now() - interval '3 days', now() - interval '3 days' + interval '30 minutes') RETURNING id",
    ] {
        in_clinic(&app, a.org, sql, &[&org, &d, &kind]).await.expect("visit");
    }
    let note = in_clinic(
        &app,
        a.org,
        "INSERT INTO clinical_notes (organization_id, patient_id, author_user_id, title, plan, status, signed_at, signed_by)
         VALUES ($1, $2, $3, 'Old visit', 'Rest', 'signed', now(), $3) RETURNING id",
        &[&org, &d, &a.provider_user.as_uuid()],
    )
    .await
    .expect("note");
    for sql in [
        "INSERT INTO allergies (organization_id, patient_id, substance, severity) VALUES ($1, $2, 'Penicillin', 'severe') RETURNING id",
        "INSERT INTO problems (organization_id, patient_id, description) VALUES ($1, $2, 'Asthma') RETURNING id",
        "INSERT INTO medications (organization_id, patient_id, name) VALUES ($1, $2, 'Albuterol') RETURNING id",
        "INSERT INTO vitals (organization_id, patient_id, measured_at, pulse) VALUES ($1, $2, now(), 70) RETURNING id",
        "INSERT INTO emergency_contacts (organization_id, patient_id, name, relationship, phone) VALUES ($1, $2, 'Jo', 'Sister', '+16172013390') RETURNING id",
        "INSERT INTO insurance_policies (organization_id, patient_id, priority, payer, member_id, subscriber_name, subscriber_relationship)
         VALUES ($1, $2, 'primary', 'Old payer', 'D1', 'Dup', 'self') RETURNING id",
        "INSERT INTO staff_tasks (organization_id, patient_id, kind, summary) VALUES ($1, $2, 'message_blocked', 'Call back') RETURNING id",
    ] {
        in_clinic(&app, a.org, sql, &[&org, &d]).await.expect(sql);
    }
    in_clinic(
        &app,
        a.org,
        "INSERT INTO insurance_policies (organization_id, patient_id, priority, payer, member_id, subscriber_name, subscriber_relationship)
         VALUES ($1, $2, 'primary', 'Current payer', 'S1', 'Surv', 'self') RETURNING id",
        &[&org, &survivor.as_uuid()],
    )
    .await
    .expect("survivor coverage");
    let mrn = |id: uuid::Uuid| {
        let app = &app;
        async move {
            let mut su = app.database().superuser().await;
            sqlx::query_scalar::<_, String>("SELECT mrn FROM patients WHERE id = $1")
                .bind(id)
                .fetch_one(&mut su)
                .await
                .expect("mrn")
        }
    };
    let duplicate_mrn = mrn(d).await;
    let merge = format!("/patients/{survivor}/merge");

    app.act_as(Some(a.provider_context()));
    assert_eq!(get(&app, &merge).await.0, 403, "the registry's upkeep is the front desk's");
    app.act_as(Some(a.desk_context()));
    let (status, page) = get(&app, &merge).await;
    assert_eq!(status, 200, "{page}");
    let (status, body) = post(&app, &merge, &[("mrn", "MRN-NOPE"), ("reason", "")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("No chart in this clinic"), "{body}");
    // Named: both are shown side by side, nothing merged yet.
    let (status, body) = post(&app, &merge, &[("mrn", &duplicate_mrn), ("reason", "Registered twice")]).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains(&duplicate_mrn) && body.contains("Merge the charts"), "{body}");
    let on_duplicate = |table: &str| format!("SELECT count(*) FROM {table} WHERE patient_id = '{d}'");
    assert_eq!(count(&app, &on_duplicate("allergies")).await, 1, "nothing moved before the confirmation");

    let res = app
        .post_form(&merge, &[("mrn", &duplicate_mrn), ("reason", "Registered twice"), ("confirm", "1")])
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap_or_default());
    for (table, _) in MOVED_TABLES {
        let left = count(&app, &on_duplicate(table)).await;
        assert_eq!(left, 0, "{table}: rows left on the duplicate");
    }
    let survivor_rows =
        |table: &str| format!("SELECT count(*) FROM {table} WHERE patient_id = '{}'", survivor.as_uuid());
    for table in [
        "appointments",
        "clinical_notes",
        "allergies",
        "problems",
        "medications",
        "vitals",
        "emergency_contacts",
        "staff_tasks",
    ] {
        assert!(count(&app, &survivor_rows(table)).await >= 1, "{table} on the survivor");
    }
    let signed_moved = format!(
        "SELECT count(*) FROM clinical_notes WHERE id = '{note}' AND patient_id = '{}' AND status = 'signed'",
        survivor.as_uuid()
    );
    assert_eq!(count(&app, &signed_moved).await, 1, "the signed note moved, unchanged");
    let current_primary = format!(
        "SELECT count(*) FROM insurance_policies WHERE patient_id = '{}' AND priority = 'primary' AND ended_at IS NULL AND payer = 'Current payer'",
        survivor.as_uuid()
    );
    assert_eq!(
        count(&app, &current_primary).await,
        1,
        "the survivor's coverage stands; the duplicate's is history"
    );
    let tombstone = format!(
        "SELECT count(*) FROM patients WHERE id = '{d}' AND deleted_at IS NOT NULL AND merged_into = '{}'",
        survivor.as_uuid()
    );
    assert_eq!(count(&app, &tombstone).await, 1, "kept as a tombstone pointing to the survivor");
    assert_eq!(count(&app, "SELECT count(*) FROM patient_merges").await, 1);
    let audited = format!(
        "SELECT count(DISTINCT patient_id) FROM audit_events WHERE purpose = 'registry.merge' AND action IN ('update', 'delete')
            AND patient_id IN ('{d}', '{}')",
        survivor.as_uuid()
    );
    assert_eq!(count(&app, &audited).await, 2, "on record for both patients");
    // A merge is not a removal: the tombstone is not offered back, and putting it back
    // by its address finds nothing.
    let (_, removed) = get(&app, "/patients/removed").await;
    assert!(!removed.contains(&duplicate_mrn), "{removed}");
    let (status, _) = post(&app, &format!("/patients/removed/{duplicate}/restore"), &[]).await;
    assert_eq!(status, 404);
    assert_eq!(count(&app, &tombstone).await, 1, "still a tombstone");
    // The duplicate's chart is gone from the registry; merging it again finds nothing.
    assert_eq!(get(&app, &format!("/patients/{duplicate}")).await.0, 404);
    let (status, _) =
        post(&app, &merge, &[("mrn", &duplicate_mrn), ("reason", "again"), ("confirm", "1")]).await;
    assert_eq!(status, 422);
    // Another clinic merges nothing here.
    app.act_as(Some(tenants.b.desk_context()));
    assert_eq!(get(&app, &merge).await.0, 404);
}
