//! `LOCKDEV_DATA_KEY` and the session timeouts.

use std::time::Duration;

use super::parse::parse_in_range;
use super::{ConfigError, Secret};

/// The key used when none is configured in development: known to everyone, so it is
/// refused in production.
const DEVELOPMENT_DATA_KEY: [u8; 32] = *b"lockdev-development-only-key-32b";

/// Sessions, factors and secrets at rest.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// 32 bytes that encrypt TOTP secrets at rest (ChaCha20-Poly1305).
    pub data_key: Secret<[u8; 32]>,
    /// Idle timeouts, measured on user actions.
    pub staff_idle: Duration,
    pub patient_idle: Duration,
    /// Re-authentication after this long, whatever the activity.
    pub absolute: Duration,
    /// `Secure` cookies with the `__Host-` prefix: on unless the public URL is plain http.
    pub secure_cookies: bool,
}

impl AuthConfig {
    /// [`AuthConfig::absolute`] as the time arithmetic of sessions needs it.
    pub(crate) fn absolute_limit(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.absolute).unwrap_or(chrono::TimeDelta::hours(12))
    }
}

/// The data key and the session timeouts. `secure_cookies` follows the public address.
pub(super) fn read(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
    public_url: &url::Url,
) -> Result<AuthConfig, ConfigError> {
    let data_key = match get("LOCKDEV_DATA_KEY") {
        Some(raw) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD.decode(raw.as_bytes()).ok();
            let key: Option<[u8; 32]> = bytes.and_then(|b| b.try_into().ok());
            Secret::new(key.ok_or_else(|| {
                ConfigError::new(
                    "LOCKDEV_DATA_KEY",
                    "expected 32 random bytes in base64 (e.g. `openssl rand -base64 32`); value not shown",
                )
            })?)
        }
        None if production => {
            return Err(ConfigError::new(
                "LOCKDEV_DATA_KEY",
                "required in production: 32 random bytes in base64 that encrypt second-factor secrets",
            ));
        }
        None => Secret::new(DEVELOPMENT_DATA_KEY),
    };
    let staff_idle = Duration::from_secs(
        60 * parse_in_range(
            get("LOCKDEV_SESSION_IDLE_STAFF_MINUTES"),
            "LOCKDEV_SESSION_IDLE_STAFF_MINUTES",
            15,
            1..=60,
            "minutes of inactivity before staff sign in again",
        )?,
    );
    let patient_idle = Duration::from_secs(
        60 * parse_in_range(
            get("LOCKDEV_SESSION_IDLE_PATIENT_MINUTES"),
            "LOCKDEV_SESSION_IDLE_PATIENT_MINUTES",
            30,
            1..=120,
            "minutes of inactivity before patients and proxies sign in again",
        )?,
    );
    let absolute = Duration::from_secs(
        3600 * parse_in_range(
            get("LOCKDEV_SESSION_ABSOLUTE_HOURS"),
            "LOCKDEV_SESSION_ABSOLUTE_HOURS",
            12,
            1..=12,
            "hours after sign-in when everyone signs in again",
        )?,
    );
    let secure_cookies = public_url.scheme() == "https";
    Ok(AuthConfig { data_key, staff_idle, patient_idle, absolute, secure_cookies })
}
