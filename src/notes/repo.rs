use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{AppointmentId, ClinicalNoteId, NoteAddendumId, OrganizationId, PatientId, UserId};

pub(crate) struct ListedNote {
    pub id: ClinicalNoteId,
    pub title: String,
    pub status: String,
    pub sensitive_category: Option<String>,
    pub created_at: DateTime<Utc>,
    pub signed_at: Option<DateTime<Utc>>,
    pub author_id: UserId,
    pub author: String,
}

pub(crate) struct StoredNote {
    pub id: ClinicalNoteId,
    pub author: UserId,
    pub author_name: String,
    pub title: String,
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    pub sensitive_category: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The visit the note documents, if one was chosen.
    pub appointment_id: Option<AppointmentId>,
    pub visit_starts_at: Option<DateTime<Utc>>,
    pub visit_kind: Option<String>,
    pub visit_provider: Option<String>,
}

/// What a save checks a note against before writing.
pub(crate) struct NoteOwner {
    pub author: UserId,
    pub patient_id: uuid::Uuid,
    pub status: String,
    pub sensitive_category: Option<String>,
}

pub(crate) struct StoredAddendum {
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub author: String,
}

/// The patient's notes, newest first.
pub async fn list(db: &mut PgConnection, patient: PatientId) -> Result<Vec<ListedNote>, sqlx::Error> {
    sqlx::query_as!(
        ListedNote,
        r#"SELECT n.id AS "id: ClinicalNoteId", n.title, n.status, n.sensitive_category, n.created_at, n.signed_at,
                  n.author_user_id AS "author_id: UserId", u.display_name AS author
             FROM clinical_notes n JOIN users u ON u.id = n.author_user_id
            WHERE n.patient_id = $1 AND n.deleted_at IS NULL
            ORDER BY n.created_at DESC"#,
        patient.as_uuid()
    )
    .fetch_all(db)
    .await
}

pub async fn owner(db: &mut PgConnection, id: ClinicalNoteId) -> Result<Option<NoteOwner>, sqlx::Error> {
    sqlx::query_as!(
        NoteOwner,
        r#"SELECT author_user_id AS "author: UserId", patient_id, status, sensitive_category
             FROM clinical_notes WHERE id = $1 AND deleted_at IS NULL"#,
        id.as_uuid()
    )
    .fetch_optional(db)
    .await
}

/// A draft's content as its author saves it.
pub(crate) struct Draft<'a> {
    pub clinic: OrganizationId,
    pub id: ClinicalNoteId,
    pub patient: PatientId,
    pub author: UserId,
    pub title: &'a str,
    pub subjective: &'a str,
    pub objective: &'a str,
    pub assessment: &'a str,
    pub plan: &'a str,
    pub sensitive_category: Option<&'a str>,
    pub appointment: Option<AppointmentId>,
}

/// Creates the draft or updates it: Some(true) created, Some(false) updated, None when
/// the note is not this author's draft on this chart (any more). The conflict arm repeats
/// the caller's checks in the statement itself, so a note signed (or created by someone
/// else) since the read is never overwritten.
pub async fn save_draft(db: &mut PgConnection, draft: &Draft<'_>) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO clinical_notes (organization_id, id, patient_id, author_user_id, title, subjective, objective,
                                      assessment, plan, sensitive_category, appointment_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (organization_id, id) DO UPDATE
              SET title = EXCLUDED.title, subjective = EXCLUDED.subjective, objective = EXCLUDED.objective,
                  assessment = EXCLUDED.assessment, plan = EXCLUDED.plan,
                  sensitive_category = EXCLUDED.sensitive_category, appointment_id = EXCLUDED.appointment_id
            WHERE clinical_notes.author_user_id = EXCLUDED.author_user_id
              AND clinical_notes.patient_id = EXCLUDED.patient_id
              AND clinical_notes.status = 'draft' AND clinical_notes.deleted_at IS NULL
           RETURNING (xmax = 0) AS "created!""#,
        draft.clinic.as_uuid(),
        draft.id.as_uuid(),
        draft.patient.as_uuid(),
        draft.author.as_uuid(),
        draft.title,
        draft.subjective,
        draft.objective,
        draft.assessment,
        draft.plan,
        draft.sensitive_category,
        draft.appointment.map(|a| a.as_uuid())
    )
    .fetch_optional(db)
    .await
}

pub async fn find(
    db: &mut PgConnection,
    id: ClinicalNoteId,
    patient: PatientId,
) -> Result<Option<StoredNote>, sqlx::Error> {
    sqlx::query_as!(
        StoredNote,
        r#"SELECT n.id AS "id: ClinicalNoteId", n.author_user_id AS "author: UserId", u.display_name AS author_name,
                  n.title, n.subjective, n.objective, n.assessment, n.plan, n.sensitive_category, n.signed_at, n.created_at,
                  n.appointment_id AS "appointment_id?: AppointmentId", a.starts_at AS "visit_starts_at?",
                  t.name AS "visit_kind?", pu.display_name AS "visit_provider?"
             FROM clinical_notes n JOIN users u ON u.id = n.author_user_id
             LEFT JOIN appointments a ON a.organization_id = n.organization_id AND a.id = n.appointment_id
             LEFT JOIN appointment_types t ON t.organization_id = a.organization_id AND t.id = a.appointment_type_id
             LEFT JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
             LEFT JOIN users pu ON pu.id = pr.user_id
            WHERE n.id = $1 AND n.patient_id = $2 AND n.deleted_at IS NULL"#,
        id.as_uuid(),
        patient.as_uuid()
    )
    .fetch_optional(db)
    .await
}

pub async fn addenda(
    db: &mut PgConnection,
    note: ClinicalNoteId,
) -> Result<Vec<StoredAddendum>, sqlx::Error> {
    sqlx::query_as!(
        StoredAddendum,
        r#"SELECT a.body, a.created_at, u.display_name AS author
             FROM clinical_note_addenda a JOIN users u ON u.id = a.author_user_id
            WHERE a.note_id = $1 ORDER BY a.created_at"#,
        note.as_uuid()
    )
    .fetch_all(db)
    .await
}

/// Signs a draft: false when it was signed already.
pub async fn sign(
    db: &mut PgConnection,
    note: ClinicalNoteId,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let signed = sqlx::query!(
        "UPDATE clinical_notes SET status = 'signed', signed_at = $2, signed_by = $3 WHERE id = $1 AND status = 'draft'",
        note.as_uuid(),
        at,
        by.as_uuid()
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(signed > 0)
}

pub async fn add_addendum(
    db: &mut PgConnection,
    clinic: OrganizationId,
    id: NoteAddendumId,
    note: ClinicalNoteId,
    author: UserId,
    body: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO clinical_note_addenda (organization_id, id, note_id, author_user_id, body) VALUES ($1, $2, $3, $4, $5)",
        clinic.as_uuid(),
        id.as_uuid(),
        note.as_uuid(),
        author.as_uuid(),
        body
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A visit a note may document: the patient's visits of the last 30 days and the next
/// day, not cancelled, the latest first.
pub(crate) struct VisitOption {
    pub id: AppointmentId,
    pub starts_at: DateTime<Utc>,
    pub kind: String,
    pub provider: String,
}

pub async fn visits(
    db: &mut PgConnection,
    patient: PatientId,
    now: DateTime<Utc>,
) -> Result<Vec<VisitOption>, sqlx::Error> {
    sqlx::query_as!(
        VisitOption,
        r#"SELECT a.id AS "id: AppointmentId", a.starts_at, t.name AS kind, u.display_name AS provider
             FROM appointments a
             JOIN appointment_types t ON t.organization_id = a.organization_id AND t.id = a.appointment_type_id
             JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
             JOIN users u ON u.id = pr.user_id
            WHERE a.patient_id = $1 AND a.status <> 'cancelled'
              AND a.starts_at BETWEEN $2::timestamptz - interval '30 days' AND $2::timestamptz + interval '1 day'
            ORDER BY a.starts_at DESC LIMIT 20"#,
        patient.as_uuid(),
        now
    )
    .fetch_all(db)
    .await
}
