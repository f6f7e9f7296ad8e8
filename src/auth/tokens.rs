//! Single-use tokens sent by e-mail. The token is 256 random bits; only its SHA-256 is
//! stored — in `auth_tokens`, and in the session of the browser that followed the link
//! ([`parked`]), so neither table holds a token that works. Redeeming is one atomic
//! UPDATE: a token works once, before it expires, for the purpose it was made for.

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::ids::{OrganizationId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    StaffInvitation,
    PatientActivation,
    ProxyInvitation,
    EmailVerification,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StaffInvitation => "staff_invitation",
            Self::PatientActivation => "patient_activation",
            Self::ProxyInvitation => "proxy_invitation",
            Self::EmailVerification => "email_verification",
            Self::PasswordReset => "password_reset",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "staff_invitation" => Self::StaffInvitation,
            "patient_activation" => Self::PatientActivation,
            "proxy_invitation" => Self::ProxyInvitation,
            "email_verification" => Self::EmailVerification,
            "password_reset" => Self::PasswordReset,
            _ => return None,
        })
    }

    /// Invitations last three days; account tokens one hour.
    pub(crate) fn lifetime(self) -> TimeDelta {
        match self {
            Self::StaffInvitation | Self::PatientActivation | Self::ProxyInvitation => TimeDelta::hours(72),
            Self::EmailVerification | Self::PasswordReset => TimeDelta::hours(1),
        }
    }
}

/// What a redeemed (or looked-at) token says.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub id: Uuid,
    pub purpose: Purpose,
    pub user_id: Option<UserId>,
    pub email: String,
    pub organization_id: Option<OrganizationId>,
    pub payload: Value,
    pub expires_at: DateTime<Utc>,
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// What a session keeps of a token from a link until the form after it is sent: its
/// digest, in hex. Looked up with [`peek`] and [`redeem`].
pub fn parked(token: &str) -> String {
    digest(token).iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest a [`parked`] value names (anything else names no token).
fn unpark(parked: &str) -> Vec<u8> {
    if parked.len() != 64 || !parked.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Vec::new();
    }
    (0..32).filter_map(|i| u8::from_str_radix(&parked[2 * i..2 * i + 2], 16).ok()).collect()
}

/// The parameters of a new token.
pub(crate) struct NewToken<'a> {
    pub purpose: Purpose,
    pub email: &'a str,
    pub user_id: Option<UserId>,
    pub organization_id: Option<OrganizationId>,
    pub payload: Value,
    pub created_by: Option<UserId>,
}

/// Makes a token and returns its text, to be sent and never stored.
pub(crate) async fn issue(
    conn: &mut PgConnection,
    token: NewToken<'_>,
    now: DateTime<Utc>,
) -> Result<String, sqlx::Error> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    sqlx::query!(
        r#"INSERT INTO auth_tokens (purpose, token_hash, user_id, email, organization_id, payload, created_by, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        token.purpose.as_str(),
        digest(&text),
        token.user_id.map(|u| u.as_uuid()),
        token.email,
        token.organization_id.map(|o| o.as_uuid()),
        token.payload,
        token.created_by.map(|u| u.as_uuid()),
        now + token.purpose.lifetime()
    )
    .execute(conn)
    .await?;
    Ok(text)
}

/// A link on its way to a person: the address (this site's public URL, `path`, then the
/// token) and when it stops working, for the e-mail's wording.
pub(crate) struct Link {
    pub url: String,
    pub expires: String,
}

/// Issues `token` and queues the e-mail `compose` writes around its link, in the caller's
/// transaction: the token and the message exist only if it commits, and the queue sends
/// the message then. The one way every invitation, reset and verification link is mailed.
pub(crate) async fn mail_link(
    conn: &mut PgConnection,
    notifier: &crate::notify::Notifier,
    public_url: &url::Url,
    path: &str,
    token: NewToken<'_>,
    now: DateTime<Utc>,
    compose: impl FnOnce(Link) -> Result<crate::integrations::mail::Email, askama::Error>,
) -> Result<(), crate::error::AppError> {
    let expires = (now + token.purpose.lifetime()).format("%Y-%m-%d %H:%M UTC").to_string();
    let text = issue(&mut *conn, token, now).await?;
    let message = compose(Link { url: format!("{public_url}{path}{text}"), expires })?;
    crate::notify::jobs::queue_account_email(conn, notifier, &message, now).await?;
    Ok(())
}

/// Looks at a [`parked`] token without spending it (to show what an invitation is for).
pub(crate) async fn peek(
    conn: &mut PgConnection,
    purpose: Purpose,
    parked: &str,
    now: DateTime<Utc>,
) -> Result<Option<Token>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, purpose, user_id AS "user_id: UserId", email::text AS "email!",
                  organization_id AS "organization_id: OrganizationId", payload, expires_at
             FROM auth_tokens
            WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3"#,
        unpark(parked),
        purpose.as_str(),
        now
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| {
        Some(Token {
            id: r.id,
            purpose: Purpose::parse(&r.purpose)?,
            user_id: r.user_id,
            email: r.email,
            organization_id: r.organization_id,
            payload: r.payload,
            expires_at: r.expires_at,
        })
    }))
}

/// Looks at a [`parked`] invitation of any kind without spending it.
pub(crate) async fn peek_invitation(
    conn: &mut PgConnection,
    parked: &str,
    now: DateTime<Utc>,
) -> Result<Option<Token>, sqlx::Error> {
    for purpose in [Purpose::StaffInvitation, Purpose::PatientActivation, Purpose::ProxyInvitation] {
        if let Some(token) = peek(&mut *conn, purpose, parked, now).await? {
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// Spends a [`parked`] token: `Some` exactly once, for an unexpired token of this purpose.
pub(crate) async fn redeem(
    conn: &mut PgConnection,
    purpose: Purpose,
    parked: &str,
    now: DateTime<Utc>,
) -> Result<Option<Token>, sqlx::Error> {
    let row = sqlx::query!(
        r#"UPDATE auth_tokens SET used_at = $3
            WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3
        RETURNING id, purpose, user_id AS "user_id: UserId", email::text AS "email!",
                  organization_id AS "organization_id: OrganizationId", payload, expires_at"#,
        unpark(parked),
        purpose.as_str(),
        now
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| {
        Some(Token {
            id: r.id,
            purpose: Purpose::parse(&r.purpose)?,
            user_id: r.user_id,
            email: r.email,
            organization_id: r.organization_id,
            payload: r.payload,
            expires_at: r.expires_at,
        })
    }))
}

/// Revokes the unused tokens of `purpose` for `user` (a new reset link replaces the old).
pub(crate) async fn revoke_for_user(
    conn: &mut PgConnection,
    purpose: Purpose,
    user: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE auth_tokens SET revoked_at = now() WHERE purpose = $1 AND user_id = $2 AND used_at IS NULL AND revoked_at IS NULL",
        purpose.as_str(),
        user.as_uuid()
    )
    .execute(conn)
    .await?;
    Ok(())
}
