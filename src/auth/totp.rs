//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30-second steps), the kind
//! every authenticator app speaks.
//!
//! The secret is 160 random bits, encrypted at rest with the data key. A code counts for
//! the step before, the current step and the step after (skew 1). Each accepted code
//! moves `last_used_step` forward in one atomic UPDATE, so the same code cannot be used
//! twice — not even by two requests racing each other.

use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use sqlx::PgConnection;
use subtle::ConstantTimeEq as _;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::crypto::DataKey;
use crate::db::ids::UserId;

pub(crate) const STEP_SECONDS: u64 = 30;
pub(crate) const DIGITS: usize = 6;
/// 160 bits, as RFC 4226 recommends.
pub(crate) const SECRET_BYTES: usize = 20;

fn totp(secret: &[u8]) -> TOTP {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECONDS, secret.to_vec())
        .expect("a 160-bit secret is accepted")
}

/// A fresh random secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// The secret as people type it (base32, no padding).
pub(crate) fn secret_text(secret: &[u8]) -> String {
    Secret::Raw(secret.to_vec()).to_encoded().to_string()
}

/// The `otpauth://` URI authenticator apps read from the QR code.
pub(crate) fn provisioning_uri(secret: &[u8], account: &str, issuer: &str) -> String {
    let enc =
        |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        secret_text(secret),
        enc(issuer)
    )
}

/// The QR code of `uri` as an SVG element, drawn on the server (no script, no image fetch).
pub(crate) fn qr_svg(uri: &str) -> String {
    use qrcode::render::svg;
    qrcode::QrCode::new(uri.as_bytes())
        .map(|code| {
            code.render::<svg::Color<'_>>()
                .min_dimensions(200, 200)
                .dark_color(svg::Color("#16212b"))
                .light_color(svg::Color("#ffffff"))
                .build()
        })
        .unwrap_or_default()
}

/// The 30-second step `at` falls in.
pub fn step_at(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP_SECONDS as i64)
}

/// The code for `step`.
pub fn code_for_step(secret: &[u8], step: i64) -> String {
    totp(secret).generate(step.max(0) as u64 * STEP_SECONDS)
}

/// The step among t-1, t, t+1 whose code is `code`, compared in constant time.
pub(crate) fn matching_step(secret: &[u8], code: &str, at: DateTime<Utc>) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(at);
    let mut found = None;
    for step in [now - 1, now, now + 1] {
        if bool::from(code_for_step(secret, step).as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// A person's working TOTP credential.
pub struct Credential {
    pub secret: Vec<u8>,
}

/// Loads and decrypts the working credential of `user` (the transaction names that user).
pub async fn load(
    conn: &mut PgConnection,
    key: &DataKey,
    user: UserId,
) -> Result<Option<Credential>, sqlx::Error> {
    let row =
        sqlx::query!("SELECT secret_ciphertext FROM totp_credentials WHERE user_id = $1", user.as_uuid())
            .fetch_optional(conn)
            .await?;
    Ok(row.and_then(|row| key.decrypt(&row.secret_ciphertext).ok().map(|secret| Credential { secret })))
}

/// How long a new secret waits for its confirming code.
pub(crate) const ENROLMENT_LIFETIME: TimeDelta = TimeDelta::minutes(30);

/// Starts (or restarts) setting up an app: a new secret, pending until a code proves
/// it. A working app keeps working until then.
pub(crate) async fn begin_enrolment(
    conn: &mut PgConnection,
    key: &DataKey,
    user: UserId,
    secret: &[u8],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO totp_enrolments (user_id, secret_ciphertext, created_at) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext,
                                               created_at = excluded.created_at"#,
        user.as_uuid(),
        key.encrypt(secret),
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The pending secret of `user`, if one was made in the last half hour. `lock` holds the
/// row until the transaction ends, so two confirmations of one secret run one at a time.
pub(crate) async fn pending_enrolment(
    conn: &mut PgConnection,
    key: &DataKey,
    user: UserId,
    now: DateTime<Utc>,
    lock: bool,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    let since = now - ENROLMENT_LIFETIME;
    let ciphertext = if lock {
        sqlx::query_scalar!(
            "SELECT secret_ciphertext FROM totp_enrolments WHERE user_id = $1 AND created_at > $2 FOR UPDATE",
            user.as_uuid(),
            since
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_scalar!(
            "SELECT secret_ciphertext FROM totp_enrolments WHERE user_id = $1 AND created_at > $2",
            user.as_uuid(),
            since
        )
        .fetch_optional(conn)
        .await?
    };
    Ok(ciphertext.and_then(|c| key.decrypt(&c).ok()))
}

/// Makes the pending secret the working one, `step` already spent (the code that
/// confirmed it cannot be used again to sign in).
pub(crate) async fn confirm_enrolment(
    conn: &mut PgConnection,
    user: UserId,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query!(
        r#"WITH pending AS (DELETE FROM totp_enrolments WHERE user_id = $1 RETURNING secret_ciphertext)
           INSERT INTO totp_credentials (user_id, secret_ciphertext, confirmed_at, last_used_step)
           SELECT $1, secret_ciphertext, now(), $2 FROM pending
           ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext,
                                               confirmed_at = now(), last_used_step = excluded.last_used_step,
                                               created_at = now()"#,
        user.as_uuid(),
        step
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(moved == 1)
}

/// Spends `step` for `user`: true for exactly one caller per step, and only for a step
/// later than every step used before.
pub(crate) async fn spend_step(
    conn: &mut PgConnection,
    user: UserId,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        r#"UPDATE totp_credentials SET last_used_step = $2
            WHERE user_id = $1 AND (last_used_step IS NULL OR last_used_step < $2)"#,
        user.as_uuid(),
        step
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Turns the app off (and drops any half-finished set-up).
pub async fn remove(conn: &mut PgConnection, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query!("DELETE FROM totp_enrolments WHERE user_id = $1", user.as_uuid())
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query!("DELETE FROM totp_credentials WHERE user_id = $1", user.as_uuid())
        .execute(conn)
        .await?
        .rows_affected()
        == 1)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("valid")
    }

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s -> 94287082 (8
        // digits); its last six digits are the 6-digit code.
        let secret = b"12345678901234567890";
        assert_eq!(code_for_step(secret, step_at(at(59))), "287082");
        assert_eq!(code_for_step(secret, step_at(at(1_111_111_109))), "081804");
    }

    #[test]
    fn only_the_neighbouring_steps_are_accepted() {
        let secret = new_secret();
        let now = at(1_800_000_000);
        for offset in -2i64..=2 {
            let code = code_for_step(&secret, step_at(now) + offset);
            let accepted = matching_step(&secret, &code, now).is_some();
            assert_eq!(accepted, offset.abs() <= 1, "step offset {offset}");
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
        let later = now + TimeDelta::seconds(30);
        assert_eq!(
            matching_step(&secret, &code_for_step(&secret, step_at(later)), now),
            Some(step_at(later))
        );
    }

    #[test]
    fn secrets_are_160_bits_and_render_as_base32_and_uri() {
        let secret = new_secret();
        assert_eq!(secret.len(), 20);
        assert_eq!(secret_text(&secret).len(), 32);
        let uri = provisioning_uri(&secret, "nurse@clinic.example", "Lockdev");
        assert!(uri.starts_with("otpauth://totp/Lockdev:nurse%40clinic.example?secret="), "{uri}");
        assert!(qr_svg(&uri).starts_with("<?xml") || qr_svg(&uri).contains("<svg"));
    }
}
