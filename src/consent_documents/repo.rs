use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{ConsentDocumentId, OrganizationId};

/// One published version (without its text).
pub(crate) struct Version {
    pub id: ConsentDocumentId,
    pub kind: String,
    pub version: String,
    pub title: String,
    pub effective_at: DateTime<Utc>,
}

/// One version with its text.
pub(crate) struct Document {
    pub kind: String,
    pub version: String,
    pub title: String,
    pub body: String,
    pub effective_at: DateTime<Utc>,
}

/// Every version of `kinds` the clinic (or, for `None`, the platform) published, newest
/// first within each kind.
pub async fn versions(
    db: &mut PgConnection,
    owner: Option<OrganizationId>,
    kinds: &[&str],
) -> Result<Vec<Version>, sqlx::Error> {
    sqlx::query_as!(
        Version,
        r#"SELECT id AS "id: ConsentDocumentId", kind, version, title, effective_at
             FROM consent_documents
            WHERE organization_id IS NOT DISTINCT FROM $1 AND kind = ANY($2)
            ORDER BY kind, effective_at DESC, created_at DESC"#,
        owner.map(|o| o.as_uuid()),
        &kinds.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>()
    )
    .fetch_all(db)
    .await
}

/// One version the clinic (or the platform) published.
pub async fn document(
    db: &mut PgConnection,
    owner: Option<OrganizationId>,
    id: ConsentDocumentId,
) -> Result<Option<Document>, sqlx::Error> {
    sqlx::query_as!(
        Document,
        r#"SELECT kind, version, title, body, effective_at FROM consent_documents
            WHERE id = $1 AND organization_id IS NOT DISTINCT FROM $2"#,
        id.as_uuid(),
        owner.map(|o| o.as_uuid())
    )
    .fetch_optional(db)
    .await
}

/// Publishes a version, effective at `now`; `None` when that kind already has this
/// version label.
pub async fn publish(
    db: &mut PgConnection,
    owner: Option<OrganizationId>,
    kind: &str,
    version: &str,
    title: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Option<ConsentDocumentId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO consent_documents (organization_id, kind, version, title, body, effective_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (organization_id, kind, version) DO NOTHING
           RETURNING id AS "id: ConsentDocumentId""#,
        owner.map(|o| o.as_uuid()),
        kind,
        version,
        title,
        body,
        now
    )
    .fetch_optional(db)
    .await
}
