use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::db::ids::{OrganizationId, UserId};

pub(crate) struct Account {
    pub display_name: String,
    pub has_password: Option<bool>,
}

/// An account that is not disabled.
pub async fn account(db: &mut PgConnection, user: UserId) -> Result<Option<Account>, sqlx::Error> {
    sqlx::query_as!(
        Account,
        "SELECT display_name, password_hash IS NOT NULL AS has_password FROM users WHERE id = $1 AND disabled_at IS NULL",
        user.as_uuid()
    )
    .fetch_optional(db)
    .await
}

pub async fn clinic_name(
    db: &mut PgConnection,
    clinic: OrganizationId,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM organizations WHERE id = $1", clinic.as_uuid())
        .fetch_optional(db)
        .await
}

/// Sets the first password of an invited account (never replaces one).
pub async fn set_first_password(
    db: &mut PgConnection,
    user: UserId,
    hash: &str,
    display_name: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET password_hash = $2, display_name = $3, email_verified_at = coalesce(email_verified_at, $4)
          WHERE id = $1 AND password_hash IS NULL",
        user.as_uuid(),
        hash,
        display_name,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The invited staff member's memberships turn active: false when none was waiting.
pub async fn activate_memberships(db: &mut PgConnection, user: UserId) -> Result<bool, sqlx::Error> {
    let activated = sqlx::query!(
        "UPDATE memberships SET status = 'active', accepted_at = now() WHERE user_id = $1 AND status = 'invited'",
        user.as_uuid()
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(activated > 0)
}

/// The chart gets its portal account: false when it has one already or is gone.
pub async fn link_portal_account(
    db: &mut PgConnection,
    patient: uuid::Uuid,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    let linked = sqlx::query!(
        "UPDATE patients SET user_id = $2, is_self_managed = true WHERE id = $1 AND user_id IS NULL AND deleted_at IS NULL",
        patient,
        user.as_uuid()
    )
    .execute(db)
    .await?
    .rows_affected();
    Ok(linked > 0)
}

/// The proxy grant turns active: the patient it is for, or None when it was revoked since.
pub async fn accept_grant(
    db: &mut PgConnection,
    assignment: uuid::Uuid,
    user: UserId,
) -> Result<Option<uuid::Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE patient_proxy_assignments SET status = 'active', accepted_at = now()
          WHERE id = $1 AND proxy_user_id = $2 AND status = 'pending' RETURNING patient_id",
        assignment,
        user.as_uuid()
    )
    .fetch_optional(db)
    .await
}
