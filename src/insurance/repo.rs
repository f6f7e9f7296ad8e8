use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::domain::Policy;
use crate::db::ids::{InsurancePolicyId, OrganizationId, PatientId, UserId};

pub(crate) struct Coverage {
    pub id: InsurancePolicyId,
    pub priority: String,
    pub payer: String,
    pub plan_name: Option<String>,
    pub member_id: String,
    pub group_number: Option<String>,
    pub subscriber_name: String,
    pub subscriber_relationship: String,
    pub subscriber_date_of_birth: Option<NaiveDate>,
    pub effective_on: Option<NaiveDate>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_reason: Option<String>,
}

/// The current policies by priority, then the last 10 ended.
pub async fn list(db: &mut PgConnection, patient: PatientId) -> Result<Vec<Coverage>, sqlx::Error> {
    sqlx::query_as!(
        Coverage,
        r#"(SELECT id AS "id!: InsurancePolicyId", priority AS "priority!", payer AS "payer!", plan_name,
                   member_id AS "member_id!", group_number, subscriber_name AS "subscriber_name!",
                   subscriber_relationship AS "subscriber_relationship!", subscriber_date_of_birth, effective_on,
                   ended_at, ended_reason
              FROM insurance_policies WHERE patient_id = $1 AND ended_at IS NULL
             ORDER BY array_position(ARRAY['primary', 'secondary', 'tertiary'], priority))
           UNION ALL
           (SELECT id, priority, payer, plan_name, member_id, group_number, subscriber_name, subscriber_relationship,
                   subscriber_date_of_birth, effective_on, ended_at, ended_reason
              FROM insurance_policies WHERE patient_id = $1 AND ended_at IS NOT NULL
             ORDER BY ended_at DESC LIMIT 10)"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// Whether a current policy holds `priority` already.
pub async fn priority_taken(
    db: &mut PgConnection,
    patient: PatientId,
    priority: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM insurance_policies WHERE patient_id = $1 AND priority = $2
                            AND ended_at IS NULL) AS "exists!""#,
        patient.as_uuid(),
        priority
    )
    .fetch_one(db)
    .await
}

pub async fn add(
    db: &mut PgConnection,
    clinic: OrganizationId,
    patient: PatientId,
    policy: &Policy,
    by: Option<UserId>,
) -> Result<InsurancePolicyId, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO insurance_policies (organization_id, patient_id, priority, payer, plan_name, member_id, group_number,
                                           subscriber_name, subscriber_relationship, subscriber_date_of_birth,
                                           effective_on, recorded_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id AS "id: InsurancePolicyId""#,
        clinic.as_uuid(),
        patient.as_uuid(),
        policy.priority,
        policy.payer,
        policy.plan_name,
        policy.member_id,
        policy.group_number,
        policy.subscriber_name,
        policy.subscriber_relationship,
        policy.subscriber_date_of_birth,
        policy.effective_on,
        by.map(|u| u.as_uuid())
    )
    .fetch_one(db)
    .await
}

/// Ends a current policy: its payer, or `None` when there is no such current policy.
pub async fn end(
    db: &mut PgConnection,
    patient: PatientId,
    policy: InsurancePolicyId,
    at: DateTime<Utc>,
    by: Option<UserId>,
    reason: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE insurance_policies SET ended_at = $3, ended_by = $4, ended_reason = $5
          WHERE id = $1 AND patient_id = $2 AND ended_at IS NULL RETURNING payer",
        policy.as_uuid(),
        patient.as_uuid(),
        at,
        by.map(|u| u.as_uuid()),
        reason
    )
    .fetch_optional(db)
    .await
}
