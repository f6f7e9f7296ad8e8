//! `LOCKDEV_MAILER`, its SMTP or SES settings, and `LOCKDEV_MAIL_FROM`.

use url::Url;

use super::{ConfigError, Secret};

/// Where account e-mail (invitations, resets, verification) goes.
#[derive(Debug, Clone)]
pub enum MailerConfig {
    /// Stored in the database and shown at `/dev/mailbox`. Development only.
    DevMailbox,
    /// An SMTP relay (`smtp://` or `smtps://`, credentials in the URL).
    Smtp { url: Secret<String> },
    /// Amazon SES v2; `endpoint` overrides the AWS endpoint (tests, local emulators).
    Ses { region: String, endpoint: Option<Url> },
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub mailer: MailerConfig,
    /// The From address, e.g. `Lockdev <no-reply@clinic.example.com>`.
    pub from: String,
}

/// The mailer and the sender address (by default no-reply at the public host).
pub(super) fn read(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
    public_url: &Url,
) -> Result<MailConfig, ConfigError> {
    let mailer = match get("LOCKDEV_MAILER").as_deref() {
        None if !production => MailerConfig::DevMailbox,
        Some("dev") if !production => MailerConfig::DevMailbox,
        Some("dev") => {
            return Err(ConfigError::new(
                "LOCKDEV_MAILER",
                "`dev` keeps mail in the database for developers; use `smtp` or `ses` in production",
            ));
        }
        Some("smtp") => {
            let url = get("LOCKDEV_SMTP_URL").ok_or_else(|| {
                ConfigError::new(
                    "LOCKDEV_SMTP_URL",
                    "required with LOCKDEV_MAILER=smtp: smtps://user:password@host:465",
                )
            })?;
            let parsed = Url::parse(&url).ok().filter(|u| matches!(u.scheme(), "smtp" | "smtps"));
            if parsed.is_none() {
                return Err(ConfigError::new(
                    "LOCKDEV_SMTP_URL",
                    "expected smtp://host:port or smtps://user:password@host:port (value not shown)",
                ));
            }
            MailerConfig::Smtp { url: Secret::new(url) }
        }
        Some("ses") => {
            let region = get("LOCKDEV_SES_REGION").ok_or_else(|| {
                ConfigError::new("LOCKDEV_SES_REGION", "required with LOCKDEV_MAILER=ses, e.g. us-east-1")
            })?;
            let endpoint = match get("LOCKDEV_SES_ENDPOINT") {
                None => None,
                Some(raw) => Some(Url::parse(&raw).map_err(|_| {
                    ConfigError::new("LOCKDEV_SES_ENDPOINT", format!("expected a URL, got {raw:?}"))
                })?),
            };
            MailerConfig::Ses { region, endpoint }
        }
        None => {
            return Err(ConfigError::new("LOCKDEV_MAILER", "required in production: `smtp` or `ses`"));
        }
        Some(other) => {
            return Err(ConfigError::new(
                "LOCKDEV_MAILER",
                format!("expected `dev`, `smtp` or `ses`, got {other:?}"),
            ));
        }
    };
    let from = get("LOCKDEV_MAIL_FROM")
        .unwrap_or_else(|| format!("Lockdev <no-reply@{}>", public_url.host_str().unwrap_or("localhost")));
    Ok(MailConfig { mailer, from })
}
