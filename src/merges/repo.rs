//! The merge itself: one statement per table that points at a patient. A test compares
//! these lists with the database's foreign keys, so a table added later cannot be
//! forgotten here.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::db::ids::{OrganizationId, PatientId, UserId};

/// Tables whose rows follow a patient by trigger (the search tokens, the directory of
/// contexts): the merge does not move them, the triggers on `patients` and on the moved
/// rows rewrite them.
pub const DERIVED_TABLES: &[&str] = &["patient_search_tokens", "user_contexts"];

/// Records of what happened to the chart as it was then (emergency accesses to it): they
/// stay with the tombstone, which the merge record links to the survivor, as the audit
/// log's events do.
pub const KEPT_TABLES: &[&str] = &["break_glass_grants"];

/// Before the move: the duplicate's rows the survivor already has, ended (as history)
/// so that moving them breaks no "one at a time" rule. $1 survivor, $2 duplicate, $3 now,
/// $4 who.
const END_CONFLICTS: &[&str] = &[
    "UPDATE care_team_members d SET removed_at = $3, removed_by = $4
      WHERE d.patient_id = $2 AND d.removed_at IS NULL
        AND EXISTS (SELECT 1 FROM care_team_members s WHERE s.patient_id = $1 AND s.removed_at IS NULL
                      AND (s.provider_id = d.provider_id OR (s.role = 'primary' AND d.role = 'primary')))",
    "UPDATE contact_methods d SET deleted_at = $3
      WHERE d.patient_id = $2 AND d.deleted_at IS NULL
        AND EXISTS (SELECT 1 FROM contact_methods s WHERE s.patient_id = $1 AND s.deleted_at IS NULL AND s.value = d.value)",
    "UPDATE contact_methods d SET is_primary = false
      WHERE d.patient_id = $2 AND d.deleted_at IS NULL AND d.is_primary
        AND EXISTS (SELECT 1 FROM contact_methods s WHERE s.patient_id = $1 AND s.deleted_at IS NULL
                      AND s.is_primary AND s.kind = d.kind)",
    "UPDATE patient_proxy_assignments d SET status = 'revoked', revoked_at = $3, revoked_by = $4
      WHERE d.patient_id = $2 AND d.status <> 'revoked'
        AND EXISTS (SELECT 1 FROM patient_proxy_assignments s WHERE s.patient_id = $1 AND s.status <> 'revoked'
                      AND s.proxy_user_id = d.proxy_user_id)",
    "UPDATE insurance_policies d SET ended_at = $3, ended_by = $4,
            ended_reason = 'Charts merged: the coverage of the chart that stays was kept'
      WHERE d.patient_id = $2 AND d.ended_at IS NULL
        AND EXISTS (SELECT 1 FROM insurance_policies s WHERE s.patient_id = $1 AND s.ended_at IS NULL
                      AND s.priority = d.priority)",
];

/// Every table with rows that point at a patient, and the statement that moves them from
/// the duplicate ($2) to the survivor ($1). A contact preference the survivor already
/// has for the same purpose stays with the tombstone (the survivor's choice stands).
pub const MOVED_TABLES: &[(&str, &str)] = &[
    ("patient_proxy_assignments", "UPDATE patient_proxy_assignments SET patient_id = $1 WHERE patient_id = $2"),
    ("care_team_members", "UPDATE care_team_members SET patient_id = $1 WHERE patient_id = $2"),
    ("contact_methods", "UPDATE contact_methods SET patient_id = $1 WHERE patient_id = $2"),
    (
        "contact_preferences",
        "UPDATE contact_preferences d SET patient_id = $1 WHERE d.patient_id = $2
            AND NOT EXISTS (SELECT 1 FROM contact_preferences s WHERE s.patient_id = $1 AND s.purpose = d.purpose)",
    ),
    ("consents", "UPDATE consents SET patient_id = $1 WHERE patient_id = $2"),
    ("appointments", "UPDATE appointments SET patient_id = $1 WHERE patient_id = $2"),
    ("clinical_notes", "UPDATE clinical_notes SET patient_id = $1 WHERE patient_id = $2"),
    ("notifications", "UPDATE notifications SET patient_id = $1 WHERE patient_id = $2"),
    ("staff_tasks", "UPDATE staff_tasks SET patient_id = $1 WHERE patient_id = $2"),
    ("allergies", "UPDATE allergies SET patient_id = $1 WHERE patient_id = $2"),
    ("problems", "UPDATE problems SET patient_id = $1 WHERE patient_id = $2"),
    ("medications", "UPDATE medications SET patient_id = $1 WHERE patient_id = $2"),
    ("vitals", "UPDATE vitals SET patient_id = $1 WHERE patient_id = $2"),
    ("insurance_policies", "UPDATE insurance_policies SET patient_id = $1 WHERE patient_id = $2"),
    ("emergency_contacts", "UPDATE emergency_contacts SET patient_id = $1 WHERE patient_id = $2"),
];

/// A chart as the merge page compares it.
pub(crate) struct ChartSummary {
    pub id: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub mrn: String,
    pub has_portal: bool,
    pub visits: i64,
    pub notes: i64,
    pub contacts: i64,
}

/// The chart with this id (not removed).
pub async fn chart(db: &mut PgConnection, id: PatientId) -> Result<Option<ChartSummary>, sqlx::Error> {
    sqlx::query_as!(
        ChartSummary,
        r#"SELECT p.id AS "id: PatientId", p.given_name, p.family_name, p.date_of_birth, p.mrn,
                  p.user_id IS NOT NULL AS "has_portal!",
                  (SELECT count(*) FROM appointments a WHERE a.patient_id = p.id) AS "visits!",
                  (SELECT count(*) FROM clinical_notes n WHERE n.patient_id = p.id AND n.deleted_at IS NULL) AS "notes!",
                  (SELECT count(*) FROM contact_methods m WHERE m.patient_id = p.id AND m.deleted_at IS NULL) AS "contacts!"
             FROM patients p
            WHERE p.id = $1 AND p.deleted_at IS NULL"#,
        id.as_uuid()
    )
    .fetch_optional(db)
    .await
}

/// The chart with this MRN (not removed), as typed or in capitals (MRNs are stored as
/// issued; both forms use the MRN index).
pub async fn chart_by_mrn(db: &mut PgConnection, mrn: &str) -> Result<Option<ChartSummary>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        r#"SELECT id AS "id: PatientId" FROM patients
            WHERE (mrn = btrim($1) OR mrn = upper(btrim($1))) AND deleted_at IS NULL
            LIMIT 1"#,
        mrn
    )
    .fetch_optional(&mut *db)
    .await?;
    match id {
        Some(id) => chart(db, id).await,
        None => Ok(None),
    }
}

/// Merges `duplicate` into `survivor`; what moved (and what stayed with the tombstone) per
/// table. The caller checked both exist in this clinic and that they are not both portal
/// accounts.
pub async fn merge(
    db: &mut PgConnection,
    clinic: OrganizationId,
    survivor: PatientId,
    duplicate: PatientId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    reason: &str,
) -> Result<BTreeMap<&'static str, (u64, i64)>, sqlx::Error> {
    let (s, d, who) = (survivor.as_uuid(), duplicate.as_uuid(), by.map(|u| u.as_uuid()));
    // The duplicate becomes a tombstone first (its portal login passes to the survivor):
    // a signed note may move only from a chart merged into the one it moves to.
    let login =
        sqlx::query_scalar!("SELECT user_id FROM patients WHERE id = $1", d).fetch_one(&mut *db).await?;
    sqlx::query!(
        "UPDATE patients SET user_id = NULL, deleted_at = $3, deleted_by = $4, merged_into = $1,
                deleted_reason = 'Merged into ' || (SELECT mrn FROM patients WHERE id = $1)
          WHERE id = $2",
        s,
        d,
        at,
        who
    )
    .execute(&mut *db)
    .await?;
    sqlx::query!(
        "UPDATE patients SET user_id = $2 WHERE id = $1 AND user_id IS NULL AND $2::uuid IS NOT NULL",
        s,
        login
    )
    .execute(&mut *db)
    .await?;
    for statement in END_CONFLICTS {
        sqlx::query(statement).bind(s).bind(d).bind(at).bind(who).execute(&mut *db).await?;
    }
    let mut moved = BTreeMap::new();
    for (table, statement) in MOVED_TABLES {
        let rows = sqlx::query(statement).bind(s).bind(d).execute(&mut *db).await?.rows_affected();
        let left: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE patient_id = $1"))
            .bind(d)
            .fetch_one(&mut *db)
            .await?;
        moved.insert(*table, (rows, left));
    }
    let record = serde_json::to_value(
        moved
            .iter()
            .map(|(table, (rows, left))| (*table, serde_json::json!({ "moved": rows, "left": left })))
            .collect::<BTreeMap<_, _>>(),
    )
    .unwrap_or_default();
    sqlx::query!(
        "INSERT INTO patient_merges (organization_id, survivor_id, merged_id, reason, moved, merged_by, merged_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        clinic.as_uuid(),
        s,
        d,
        reason,
        record,
        who,
        at
    )
    .execute(&mut *db)
    .await?;
    Ok(moved)
}
