//! Patient queries. Every statement runs in the request's tenant transaction, so
//! row-level security scopes it to the clinic; none names the organization itself except
//! where a row is written.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::domain::{Demographics, FirstContacts, SearchQuery};
use crate::db::ids::{OrganizationId, PatientId, UserId};

/// A search result row.
#[derive(Debug, Clone)]
pub(crate) struct HitRow {
    pub id: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: NaiveDate,
    pub mrn: String,
    pub legal_sex: String,
}

/// Results per page.
pub(crate) const PAGE: i64 = 25;

/// One page of results for `query` after the patient `after` (keyset on family name,
/// given name, id), at most `PAGE + 1` rows so the caller knows whether more follow.
///
/// Each branch is an index lookup under row-level security: name fragments are prefix
/// ranges over `patient_search_tokens` (text comparisons are LEAKPROOF, so the btree is
/// usable below the security barrier), MRN and date of birth have their own indexes,
/// phone and e-mail the contact value index.
pub async fn search(
    db: &mut PgConnection,
    query: &SearchQuery,
    after: Option<PatientId>,
) -> Result<Vec<HitRow>, sqlx::Error> {
    let after = after.map(|a| a.as_uuid());
    let limit = PAGE + 1;
    match query {
        SearchQuery::All => {
            sqlx::query_as!(
                HitRow,
                r#"SELECT p.id AS "id: PatientId", p.given_name, p.family_name, p.preferred_name, p.date_of_birth, p.mrn, p.legal_sex
                     FROM patients p
                    WHERE p.deleted_at IS NULL
                      AND ($1::uuid IS NULL OR (p.family_name, p.given_name, p.id)
                           > (SELECT family_name, given_name, id FROM patients WHERE id = $1))
                    ORDER BY p.family_name, p.given_name, p.id
                    LIMIT $2"#,
                after,
                limit
            )
            .fetch_all(db)
            .await
        }
        SearchQuery::Names { text, date_of_birth } => {
            // Two fences keep this an index lookup per match whatever the statistics say:
            // `hits` is materialized (planned with the LIMIT in sight, PostgreSQL walked the
            // clinic's whole name index: 50 ms for a common surname at 20,000 patients), and
            // each match is fetched by primary key in a LATERAL subquery that OFFSET 0 keeps
            // from being flattened (else it hash-joined all 20,000 patients: 5 ms).
            sqlx::query_as!(
                HitRow,
                r#"WITH terms AS (SELECT t AS low, t || chr(1114111) AS high FROM search_tokens($1) AS t),
                        matched AS (
                            SELECT s.patient_id
                              FROM terms q
                              JOIN patient_search_tokens s ON s.token >= q.low AND s.token < q.high
                             GROUP BY s.patient_id
                            HAVING count(DISTINCT q.low) = (SELECT count(*) FROM terms)),
                        hits AS MATERIALIZED (
                            SELECT p.id, p.given_name, p.family_name, p.preferred_name, p.date_of_birth, p.mrn, p.legal_sex
                              FROM matched m
                             CROSS JOIN LATERAL (
                                   SELECT * FROM patients p
                                    WHERE p.id = m.patient_id AND p.deleted_at IS NULL
                                      AND ($2::date IS NULL OR p.date_of_birth = $2)
                                      AND ($3::uuid IS NULL OR (p.family_name, p.given_name, p.id)
                                           > (SELECT family_name, given_name, id FROM patients WHERE id = $3))
                                   OFFSET 0) AS p)
                   SELECT id AS "id!: PatientId", given_name AS "given_name!", family_name AS "family_name!",
                          preferred_name, date_of_birth AS "date_of_birth!", mrn AS "mrn!", legal_sex AS "legal_sex!"
                     FROM hits
                    ORDER BY family_name, given_name, id
                    LIMIT $4"#,
                text,
                *date_of_birth,
                after,
                limit
            )
            .fetch_all(db)
            .await
        }
        SearchQuery::DateOfBirth(date) => {
            sqlx::query_as!(
                HitRow,
                r#"SELECT p.id AS "id: PatientId", p.given_name, p.family_name, p.preferred_name, p.date_of_birth, p.mrn, p.legal_sex
                     FROM patients p
                    WHERE p.date_of_birth = $1 AND p.deleted_at IS NULL
                      AND ($2::uuid IS NULL OR (p.family_name, p.given_name, p.id)
                           > (SELECT family_name, given_name, id FROM patients WHERE id = $2))
                    ORDER BY p.family_name, p.given_name, p.id
                    LIMIT $3"#,
                *date,
                after,
                limit
            )
            .fetch_all(db)
            .await
        }
        SearchQuery::Mrn(mrn) => by_mrn(db, mrn, after).await,
        SearchQuery::Email(email) => by_contact(db, email, after, limit).await,
        SearchQuery::Phone { e164, mrn: None } => by_contact(db, e164, after, limit).await,
        SearchQuery::Phone { e164, mrn: Some(mrn) } => {
            // Digits only: a phone number or an MRN. Both lookups, merged in name order.
            let mut rows = by_contact(db, e164, after, limit).await?;
            for row in by_mrn(db, mrn, after).await? {
                if !rows.iter().any(|r| r.id == row.id) {
                    rows.push(row);
                }
            }
            rows.sort_by(|a, b| {
                (&a.family_name, &a.given_name, a.id).cmp(&(&b.family_name, &b.given_name, b.id))
            });
            rows.truncate(limit as usize);
            Ok(rows)
        }
    }
}

/// The patient with this MRN (one index lookup; a keyset past it finds nothing more).
async fn by_mrn(
    db: &mut PgConnection,
    mrn: &str,
    after: Option<uuid::Uuid>,
) -> Result<Vec<HitRow>, sqlx::Error> {
    if after.is_some() {
        return Ok(Vec::new());
    }
    sqlx::query_as!(
        HitRow,
        r#"SELECT id AS "id: PatientId", given_name, family_name, preferred_name, date_of_birth, mrn, legal_sex
             FROM patients WHERE mrn = upper($1) AND deleted_at IS NULL"#,
        mrn
    )
    .fetch_all(db)
    .await
}

/// Patients with this phone number or e-mail address on a live contact (households share
/// numbers, so there may be several). A value is on a chart once (a unique index), so
/// each patient comes once without a DISTINCT.
async fn by_contact(
    db: &mut PgConnection,
    value: &str,
    after: Option<uuid::Uuid>,
    limit: i64,
) -> Result<Vec<HitRow>, sqlx::Error> {
    sqlx::query_as!(
        HitRow,
        r#"SELECT p.id AS "id: PatientId", p.given_name, p.family_name, p.preferred_name, p.date_of_birth,
                  p.mrn, p.legal_sex
             FROM contact_methods m JOIN patients p ON p.id = m.patient_id
            WHERE m.value = $1 AND m.deleted_at IS NULL AND p.deleted_at IS NULL
              AND ($2::uuid IS NULL OR (p.family_name, p.given_name, p.id)
                   > (SELECT family_name, given_name, id FROM patients WHERE id = $2))
            ORDER BY p.family_name, p.given_name, p.id
            LIMIT $3"#,
        value,
        after,
        limit
    )
    .fetch_all(db)
    .await
}

/// A possible duplicate and why.
#[derive(Debug, Clone)]
pub(crate) struct DuplicateRow {
    pub id: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub mrn: String,
    /// How the record matches what was typed, the closest first (see `domain::MatchKind`).
    pub kind: i32,
}

/// Patients of this clinic who may be the person being registered: the same or a
/// similar name (two slips at most in each part, or first and last swapped) on the same
/// date of birth; the same name with the day and month swapped or one digit apart; or
/// the same phone. The closest first, ten at most.
pub(crate) async fn possible_duplicates(
    db: &mut PgConnection,
    demographics: &Demographics,
    swapped_birth: Option<NaiveDate>,
    phone: Option<&str>,
) -> Result<Vec<DuplicateRow>, sqlx::Error> {
    sqlx::query_as!(
        DuplicateRow,
        r#"WITH typed AS (SELECT $1::date AS born, lower($2::text) AS family, lower($3::text) AS given)
           SELECT p.id AS "id: PatientId", p.given_name, p.family_name, p.date_of_birth, p.mrn,
                  CASE WHEN p.date_of_birth = t.born AND lower(p.family_name) = t.family AND lower(p.given_name) = t.given THEN 0
                       WHEN p.date_of_birth = t.born AND lower(p.family_name) = t.given AND lower(p.given_name) = t.family THEN 1
                       WHEN p.date_of_birth = t.born
                            AND levenshtein(lower(p.family_name), t.family) <= 2
                            AND levenshtein(lower(p.given_name), t.given) <= 2 THEN 2
                       WHEN lower(p.family_name) = t.family AND lower(p.given_name) = t.given
                            AND p.date_of_birth = $4::date THEN 3
                       WHEN lower(p.family_name) = t.family AND lower(p.given_name) = t.given
                            AND levenshtein(p.date_of_birth::text, t.born::text) = 1 THEN 4
                       ELSE 5 END AS "kind!"
             FROM patients p CROSS JOIN typed t
            WHERE p.deleted_at IS NULL
              AND ((p.date_of_birth = t.born
                    AND ((levenshtein(lower(p.family_name), t.family) <= 2 AND levenshtein(lower(p.given_name), t.given) <= 2)
                         OR (lower(p.family_name) = t.given AND lower(p.given_name) = t.family)))
                   OR (lower(p.family_name) = t.family AND lower(p.given_name) = t.given
                       AND (p.date_of_birth = $4::date OR levenshtein(p.date_of_birth::text, t.born::text) = 1))
                   OR p.id IN (SELECT m.patient_id FROM contact_methods m
                                WHERE m.deleted_at IS NULL AND m.kind <> 'email' AND m.value = $5))
            ORDER BY 6, p.family_name, p.given_name
            LIMIT 10"#,
        demographics.date_of_birth,
        demographics.family_name,
        demographics.given_name,
        swapped_birth,
        phone
    )
    .fetch_all(db)
    .await
}

/// Registers a patient with a new MRN and their first contacts (every safe flag off:
/// unknown is unsafe until someone asks the patient).
pub async fn insert(
    db: &mut PgConnection,
    organization: OrganizationId,
    demographics: &Demographics,
    self_managed: bool,
    contacts: &FirstContacts,
    created_by: Option<UserId>,
) -> Result<(PatientId, String), sqlx::Error> {
    let id = PatientId::new();
    let number: i64 = sqlx::query_scalar!(
        r#"INSERT INTO mrn_counters (organization_id, next_value) VALUES ($1, 2)
           ON CONFLICT (organization_id) DO UPDATE SET next_value = mrn_counters.next_value + 1
           RETURNING next_value - 1 AS "number!""#,
        organization.as_uuid()
    )
    .fetch_one(&mut *db)
    .await?;
    let mrn = format!("MRN-{number:06}");
    let d = demographics;
    sqlx::query!(
        "INSERT INTO patients (organization_id, id, mrn, given_name, middle_name, family_name, preferred_name,
                               date_of_birth, legal_sex, gender_identity, preferred_language, address_line1,
                               address_line2, city, region, postal_code, is_self_managed, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        organization.as_uuid(),
        id.as_uuid(),
        mrn,
        d.given_name,
        d.middle_name,
        d.family_name,
        d.preferred_name,
        d.date_of_birth,
        d.legal_sex,
        d.gender_identity,
        d.preferred_language,
        d.address_line1,
        d.address_line2,
        d.city,
        d.region,
        d.postal_code,
        self_managed,
        created_by.map(|u| u.as_uuid())
    )
    .execute(&mut *db)
    .await?;
    for (kind, value) in [("mobile", &contacts.mobile), ("email", &contacts.email)] {
        if let Some(value) = value {
            sqlx::query!(
                "INSERT INTO contact_methods (organization_id, patient_id, kind, value, is_primary)
                 VALUES ($1, $2, $3, $4, true)",
                organization.as_uuid(),
                id.as_uuid(),
                kind,
                value
            )
            .execute(&mut *db)
            .await?;
        }
    }
    Ok((id, mrn))
}

/// Saves edited demographics. The MRN, login and organization are not touched here.
///
/// Confidential communication is contact safety: anyone who edits demographics may turn
/// it on, but only someone who may set contact safety (`may_lift_confidentiality`) may
/// turn it off or change its note, since turning it off sends a dependent's messages to
/// their proxies again.
pub async fn update(
    db: &mut PgConnection,
    id: PatientId,
    d: &Demographics,
    may_lift_confidentiality: bool,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE patients SET given_name = $2, middle_name = $3, family_name = $4, preferred_name = $5,
                date_of_birth = $6, legal_sex = $7, gender_identity = $8, preferred_language = $9,
                address_line1 = $10, address_line2 = $11, city = $12, region = $13, postal_code = $14,
                confidential_communication = CASE WHEN $17 THEN $15 ELSE confidential_communication OR $15 END,
                confidential_note = CASE WHEN $17 OR NOT confidential_communication THEN $16 ELSE confidential_note END
          WHERE id = $1 AND deleted_at IS NULL",
        id.as_uuid(),
        d.given_name,
        d.middle_name,
        d.family_name,
        d.preferred_name,
        d.date_of_birth,
        d.legal_sex,
        d.gender_identity,
        d.preferred_language,
        d.address_line1,
        d.address_line2,
        d.city,
        d.region,
        d.postal_code,
        d.confidential_communication,
        d.confidential_note,
        may_lift_confidentiality
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The demographics as stored (the shape the form validates into).
pub async fn demographics(db: &mut PgConnection, id: PatientId) -> Result<Demographics, sqlx::Error> {
    sqlx::query_as!(
        Demographics,
        "SELECT given_name, middle_name, family_name, preferred_name, date_of_birth, legal_sex, gender_identity,
                preferred_language, address_line1, address_line2, city, region, postal_code,
                confidential_communication, confidential_note
           FROM patients WHERE id = $1",
        id.as_uuid()
    )
    .fetch_one(db)
    .await
}

/// A visit still ahead, as the summary lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct UpcomingRow {
    pub starts_at: DateTime<Utc>,
    pub status: String,
    pub kind: String,
    pub provider: String,
    /// A sensitive visit (marked so, or of a sensitive type): its type name is shown only
    /// to those who may read such a visit's reason.
    pub sensitive: bool,
}

/// The summary's reads in one statement: the demographics and, when `visits_from` is
/// given (the viewer may see the schedule), the next three booked visits from then. The
/// visits' subquery sits in a CASE, so without permission it is never run at all.
pub async fn summary(
    db: &mut PgConnection,
    id: PatientId,
    visits_from: Option<DateTime<Utc>>,
) -> Result<(Demographics, Vec<UpcomingRow>), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT p.given_name, p.middle_name, p.family_name, p.preferred_name, p.date_of_birth, p.legal_sex,
                  p.gender_identity, p.preferred_language, p.address_line1, p.address_line2, p.city, p.region,
                  p.postal_code, p.confidential_communication, p.confidential_note,
                  CASE WHEN $2::timestamptz IS NOT NULL THEN
                      (SELECT json_agg(v ORDER BY v.starts_at)
                         FROM (SELECT a.starts_at, a.status, t.name AS kind, u.display_name AS provider,
                                      (a.sensitive OR t.sensitive) AS sensitive
                                 FROM appointments a
                                 JOIN appointment_types t ON t.organization_id = a.organization_id
                                                         AND t.id = a.appointment_type_id
                                 JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
                                 JOIN users u ON u.id = pr.user_id
                                WHERE a.patient_id = p.id AND a.starts_at >= $2
                                  AND a.status IN ('booked', 'checked_in')
                                ORDER BY a.starts_at LIMIT 3) v)
                  END AS "upcoming: sqlx::types::Json<Vec<UpcomingRow>>"
             FROM patients p WHERE p.id = $1"#,
        id.as_uuid(),
        visits_from
    )
    .fetch_one(db)
    .await?;
    let demographics = Demographics {
        given_name: row.given_name,
        middle_name: row.middle_name,
        family_name: row.family_name,
        preferred_name: row.preferred_name,
        date_of_birth: row.date_of_birth,
        legal_sex: row.legal_sex,
        gender_identity: row.gender_identity,
        preferred_language: row.preferred_language,
        address_line1: row.address_line1,
        address_line2: row.address_line2,
        city: row.city,
        region: row.region,
        postal_code: row.postal_code,
        confidential_communication: row.confidential_communication,
        confidential_note: row.confidential_note,
    };
    Ok((demographics, row.upcoming.map(|json| json.0).unwrap_or_default()))
}

/// Soft delete: the record stays (history, audit, billing); it leaves the registry, and
/// the people who acted for the patient stop doing so (their grants are revoked with it).
/// What removing a patient would end: booked visits still to come, and proxy grants.
pub(crate) struct RemovalReach {
    pub upcoming_visits: i64,
    pub proxy_grants: i64,
}

pub(crate) async fn removal_reach(
    db: &mut PgConnection,
    id: PatientId,
    now: DateTime<Utc>,
) -> Result<RemovalReach, sqlx::Error> {
    sqlx::query_as!(
        RemovalReach,
        r#"SELECT (SELECT count(*) FROM appointments WHERE patient_id = $1 AND status = 'booked' AND starts_at > $2)
                      AS "upcoming_visits!",
                  (SELECT count(*) FROM patient_proxy_assignments WHERE patient_id = $1 AND status <> 'revoked')
                      AS "proxy_grants!""#,
        id.as_uuid(),
        now
    )
    .fetch_one(db)
    .await
}

/// Takes a patient out of the registry, with the reason: their booked visits still to
/// come are cancelled (so no reminder goes and the slots free up) and their proxies'
/// access ends. None when the patient was not on the registry.
pub(crate) async fn soft_delete(
    db: &mut PgConnection,
    id: PatientId,
    by: Option<UserId>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Option<RemovalReach>, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE patients SET deleted_at = $3, deleted_by = $2, deleted_reason = $4 WHERE id = $1 AND deleted_at IS NULL",
        id.as_uuid(),
        by.map(|u| u.as_uuid()),
        now,
        reason
    )
    .execute(&mut *db)
    .await?;
    if result.rows_affected() != 1 {
        return Ok(None);
    }
    let visits = sqlx::query!(
        "UPDATE appointments SET status = 'cancelled', cancelled_at = $3, cancelled_by = $2,
                cancel_reason = 'The patient was removed from the registry.'
          WHERE patient_id = $1 AND status = 'booked' AND starts_at > $3",
        id.as_uuid(),
        by.map(|u| u.as_uuid()),
        now
    )
    .execute(&mut *db)
    .await?
    .rows_affected();
    let grants = sqlx::query!(
        "UPDATE patient_proxy_assignments SET status = 'revoked', revoked_at = $3, revoked_by = $2
          WHERE patient_id = $1 AND status <> 'revoked'",
        id.as_uuid(),
        by.map(|u| u.as_uuid()),
        now
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(Some(RemovalReach {
        upcoming_visits: i64::try_from(visits).unwrap_or(i64::MAX),
        proxy_grants: i64::try_from(grants).unwrap_or(i64::MAX),
    }))
}

/// A patient taken out of the registry since `since`, newest first.
pub(crate) struct RemovedPatient {
    pub id: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub mrn: String,
    pub date_of_birth: NaiveDate,
    pub deleted_at: DateTime<Utc>,
    pub removed_by: Option<String>,
    pub reason: Option<String>,
}

pub(crate) async fn removed_since(
    db: &mut PgConnection,
    since: DateTime<Utc>,
) -> Result<Vec<RemovedPatient>, sqlx::Error> {
    sqlx::query_as!(
        RemovedPatient,
        r#"SELECT p.id AS "id: PatientId", p.given_name, p.family_name, p.mrn, p.date_of_birth,
                  p.deleted_at AS "deleted_at!", u.display_name AS "removed_by?", p.deleted_reason AS reason
             FROM patients p LEFT JOIN users u ON u.id = p.deleted_by
            WHERE p.deleted_at IS NOT NULL AND p.deleted_at > $1 AND p.merged_into IS NULL
            ORDER BY p.deleted_at DESC LIMIT 200"#,
        since
    )
    .fetch_all(db)
    .await
}

/// Puts a patient removed since `since` back on the registry: whether there was one.
/// Cancelled visits stay cancelled and ended grants stay ended (each is its own decision).
pub(crate) async fn restore(
    db: &mut PgConnection,
    id: PatientId,
    since: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let restored = sqlx::query!(
        "UPDATE patients SET deleted_at = NULL, deleted_by = NULL, deleted_reason = NULL
          WHERE id = $1 AND deleted_at IS NOT NULL AND deleted_at > $2 AND merged_into IS NULL",
        id.as_uuid(),
        since
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(restored == 1)
}
