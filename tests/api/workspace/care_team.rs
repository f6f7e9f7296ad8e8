//! Care teams: who may change them, and who is told.

use lockdev::auth::policy::StaffRole;
use lockdev::db::ids::{PatientId, ProviderId};

use super::{count, get, in_clinic, member, post, setup, ulid};
use crate::helpers::TestApp;

async fn provider_of(
    app: &TestApp,
    org: lockdev::db::ids::OrganizationId,
    user: lockdev::db::ids::UserId,
) -> ProviderId {
    ProviderId::from_uuid(
        in_clinic(app, org, "SELECT id FROM providers WHERE user_id = $1", &[&user.as_uuid()])
            .await
            .expect("provider"),
    )
}

async fn primary_member(app: &TestApp, patient: PatientId) -> String {
    let mut su = app.database().superuser().await;
    let id: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM care_team_members WHERE patient_id = $1 AND role = 'primary' AND removed_at IS NULL",
    )
    .bind(patient)
    .fetch_one(&mut su)
    .await
    .expect("primary");
    ulid::Ulid::from(id).to_string()
}

/// The primary provider reads the patient's sensitive notes, so replacing one is not the
/// front desk's to do alone: the care team's providers do it, and the former primary and
/// the team are told (a task each), with who did it and why.
#[tokio::test]
async fn a_primary_provider_is_replaced_by_the_care_team_and_everyone_concerned_is_told() {
    let (app, tenants, _) = setup(1).await;
    let a = &tenants.a;
    let patient = a.patients[0];
    let (colleague, colleague_user) = member(&app, a.org, StaffRole::Provider).await;
    let (_, newcomer_user) = member(&app, a.org, StaffRole::Provider).await;
    let colleague_provider = provider_of(&app, a.org, colleague_user).await;
    let newcomer = provider_of(&app, a.org, newcomer_user).await;
    let team = format!("/patients/{patient}/care-team");
    let remove_primary = |reason: &'static str| {
        let app = &app;
        let team = team.clone();
        async move {
            let member = primary_member(app, patient).await;
            post(app, &format!("{team}/{member}/remove"), &[("reason", reason)]).await
        }
    };
    let tasks_of = |user: lockdev::db::ids::UserId| {
        let app = &app;
        async move {
            count(
                app,
                &format!(
                    "SELECT count(*) FROM staff_tasks WHERE assigned_user_id = '{}' AND done_at IS NULL",
                    user.as_uuid()
                ),
            )
            .await
        }
    };

    // The front desk cannot take the primary provider off the chart.
    app.act_as(Some(a.desk_context()));
    let (status, body) = remove_primary("Patient asked for another doctor").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("provider on the patient"), "{body}");
    let primaries = format!(
        "SELECT count(*) FROM care_team_members WHERE role = 'primary' AND removed_at IS NULL AND patient_id = '{}'",
        patient.as_uuid()
    );
    assert_eq!(count(&app, &primaries).await, 1, "still the primary");

    // The primary adds a colleague; the colleague, now on the team, replaces the primary.
    app.act_as(Some(a.provider_context()));
    let fields = [
        ("provider_id", colleague_provider.to_string()),
        ("role", "specialist".into()),
        ("reason", "Referral".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post(&app, &team, &fields).await.0, 200);
    app.act_as(Some(colleague.clone()));
    let (status, body) = remove_primary("Moving to the north site").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(tasks_of(a.provider_user).await, 1, "the former primary is told");
    assert_eq!(tasks_of(colleague_user).await, 0, "not the one who did it");

    // With no primary left, the front desk assigns the new one: the team and the new
    // primary are told.
    app.act_as(Some(a.desk_context()));
    let fields = [
        ("provider_id", newcomer.to_string()),
        ("role", "primary".into()),
        ("reason", "Took over the panel".into()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post(&app, &team, &fields).await.0, 200);
    assert_eq!(tasks_of(colleague_user).await, 1);
    assert_eq!(tasks_of(newcomer_user).await, 1);
    let (_, desk_tasks) = get(&app, "/tasks").await;
    assert!(!desk_tasks.contains("primary provider"), "a person's task is theirs alone: {desk_tasks}");
    assert!(
        count(&app, "SELECT count(*) FROM audit_events WHERE details ? 'care_team_told' AND (details->>'care_team_told')::int > 0").await
            >= 2,
        "each change records that people were told"
    );

    // The former primary reads theirs (who, what, why) and closes it; nobody else can.
    app.act_as(Some(a.provider_context()));
    let (status, page) = get(&app, "/tasks").await;
    assert_eq!(status, 200);
    assert!(page.contains("removed provider ALPHA-CANARY as the primary provider"), "{page}");
    assert!(page.contains("Moving to the north site"), "{page}");
    let task: uuid::Uuid = {
        let mut su = app.database().superuser().await;
        sqlx::query_scalar("SELECT id FROM staff_tasks WHERE assigned_user_id = $1")
            .bind(a.provider_user)
            .fetch_one(&mut su)
            .await
            .expect("task")
    };
    let done = format!("/tasks/{}/done", ulid::Ulid::from(task));
    app.act_as(Some(a.desk_context()));
    assert_eq!(post(&app, &done, &[]).await.0, 404);
    app.act_as(Some(a.provider_context()));
    assert_eq!(post(&app, &done, &[]).await.0, 303);
    assert_eq!(tasks_of(a.provider_user).await, 0);
}

// ---- AZ-11 (outside review): care-team membership is not self-service ---------------------

#[tokio::test]
async fn nobody_adds_themselves_to_a_care_team_and_each_change_says_why() {
    let (app, tenants, _) = setup(2).await;
    let a = &tenants.a;
    let (on_team, other) = (a.patients[0], a.patients[1]);
    let (colleague, colleague_user) = member(&app, a.org, StaffRole::Provider).await;
    let colleague_provider = ProviderId::from_uuid(
        in_clinic(&app, a.org, "SELECT id FROM providers WHERE user_id = $1", &[&colleague_user.as_uuid()])
            .await
            .expect("provider"),
    );
    let sensitive = in_clinic(
        &app,
        a.org,
        "INSERT INTO clinical_notes (organization_id, patient_id, author_user_id, title, plan, sensitive_category,
                                     status, signed_at, signed_by)
         VALUES ($1, $2, $3, 'Counselling', 'SECRET-MOOD', 'behavioral_health', 'signed', now(), $3) RETURNING id",
        &[&a.org.as_uuid(), &on_team.as_uuid(), &a.provider_user.as_uuid()],
    )
    .await
    .expect("note");
    let add = |patient, provider: ProviderId, role: &'static str, reason: &'static str| {
        let app = &app;
        async move {
            post(
                app,
                &format!("/patients/{patient}/care-team"),
                &[("provider_id", &provider.to_string()), ("role", role), ("reason", reason)],
            )
            .await
        }
    };
    let team_size = |patient: PatientId| {
        let app = &app;
        async move {
            count(
                app,
                &format!(
                    "SELECT count(*) FROM care_team_members WHERE patient_id = '{}' AND removed_at IS NULL",
                    patient.as_uuid()
                ),
            )
            .await
        }
    };

    // A provider adds themselves: refused, as any role, to a team or not.
    app.act_as(Some(colleague.clone()));
    let (status, body) = add(on_team, colleague_provider, "specialist", "I want to read it").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("cannot add yourself"), "{body}");
    assert_eq!(team_size(on_team).await, 1);
    // ... and cannot read the sensitive note.
    assert_eq!(get(&app, &format!("/patients/{on_team}/notes/{}", ulid(sensitive))).await.0, 404);
    // A provider not on the team changes nothing of it.
    let (status, body) = add(other, a.provider, "specialist", "Seen in clinic").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("own care team"), "{body}");

    // The front desk assigns the primary provider only, and not without a reason.
    app.act_as(Some(a.desk_context()));
    let (status, body) = add(on_team, colleague_provider, "specialist", "Referral").await;
    assert_eq!(status, 422);
    assert!(body.contains("assigns the primary provider"), "{body}");
    let (status, body) = add(other, colleague_provider, "primary", "").await;
    assert_eq!(status, 422);
    assert!(body.contains("Say why"), "{body}");
    assert_eq!(add(other, colleague_provider, "primary", "New patient, assigned at intake").await.0, 200);

    // The team's own provider adds a colleague as specialist: the colleague reads the note.
    app.act_as(Some(a.provider_context()));
    assert_eq!(add(on_team, colleague_provider, "specialist", "Referred for a second opinion").await.0, 200);
    app.act_as(Some(colleague));
    assert_eq!(get(&app, &format!("/patients/{on_team}/notes/{}", ulid(sensitive))).await.0, 200);

    let reasons = count(
        &app,
        "SELECT count(*) FROM care_team_members WHERE added_reason IS NOT NULL AND added_by IS NOT NULL",
    )
    .await;
    assert_eq!(reasons, 2, "each addition keeps its reason and who made it");
}
