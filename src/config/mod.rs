//! Configuration: read from environment variables once at start-up, validated, typed.
//!
//! Every problem is reported as one line naming the variable and what it expects
//! ([`ConfigError`]), so `lockdev check-config` and a failing start-up say exactly what to
//! fix. Values that are secrets (database URLs carry passwords) are wrapped in [`Secret`]
//! and never echoed back, not even in an error.
//!
//! There is no global config: [`Config::from_lookup`] takes a lookup function, so tests
//! build as many configurations as they like without touching the process environment.

mod auth;
mod database;
mod http;
mod jobs;
mod log;
mod mail;
mod messaging;
mod parse;

use std::fmt;

pub use auth::AuthConfig;
pub use database::DatabaseConfig;
pub use http::{HttpConfig, RateLimit};
pub use jobs::JobsConfig;
pub use log::{LogConfig, LogFormat};
pub use mail::{MailConfig, MailerConfig};
pub use messaging::{MessagingConfig, TextConfig, VoiceConfig};

/// A value that must never reach a log line, an error page or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call sites should be few and obvious.
    pub(crate) fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// One bad or missing setting: which variable, and what it should hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self { variable, problem: problem.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// A developer's machine or a test: plain http on localhost is allowed.
    Development,
    /// Anything reachable by real users: https only, TLS to the database.
    Production,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub messaging: MessagingConfig,
    pub jobs: JobsConfig,
    pub log: LogConfig,
}

impl Config {
    /// Reads the process environment.
    pub(crate) fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, one section after another; an empty value counts
    /// as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let environment = match get("LOCKDEV_ENV").as_deref() {
            None | Some("production") => Environment::Production,
            Some("development") => Environment::Development,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOCKDEV_ENV",
                    format!("expected `development` or `production`, got {other:?}"),
                ));
            }
        };
        let production = environment == Environment::Production;
        let http = http::read(&get, production)?;
        Ok(Self {
            environment,
            database: database::read(&get, production)?,
            auth: auth::read(&get, production, &http.public_url)?,
            mail: mail::read(&get, production, &http.public_url)?,
            messaging: messaging::read(&get, production)?,
            jobs: jobs::read(&get)?,
            log: log::read(&get)?,
            http,
        })
    }

    pub(crate) fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use std::time::Duration;

    use super::*;

    /// Real text and voice channels, which production requires; tests about other
    /// settings get them unless they say otherwise.
    const CHANNELS: [(&str, &str); 7] = [
        ("LOCKDEV_SMS", "aws"),
        ("LOCKDEV_AWS_REGION", "us-east-1"),
        ("LOCKDEV_SMS_ORIGINATION", "+16175550199"),
        ("LOCKDEV_VOICE", "connect"),
        ("LOCKDEV_CONNECT_INSTANCE_ID", "instance"),
        ("LOCKDEV_CONNECT_CONTACT_FLOW_ID", "flow"),
        ("LOCKDEV_CONNECT_SOURCE_PHONE", "+16175550199"),
    ];

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        for (k, v) in CHANNELS {
            map.entry(k.to_owned()).or_insert_with(|| v.to_owned());
        }
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn production_needs_real_text_and_voice_channels() {
        let base = [
            ("LOCKDEV_PUBLIC_URL", "https://clinic.example.com"),
            ("LOCKDEV_DATA_KEY", "bG9ja2Rldi10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE="),
            ("LOCKDEV_MAILER", "ses"),
            ("LOCKDEV_SES_REGION", "us-east-1"),
        ];
        let only = |extra: &[(&str, &str)]| {
            let map: HashMap<&str, &str> = base.iter().chain(extra).copied().collect();
            Config::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
        };
        assert_eq!(only(&[]).expect_err("no channels").variable, "LOCKDEV_SMS");
        assert_eq!(only(&[("LOCKDEV_SMS", "dev")]).expect_err("dev outbox").variable, "LOCKDEV_SMS");
        let texts = [("LOCKDEV_SMS", "aws"), ("LOCKDEV_AWS_REGION", "us-east-1")];
        assert_eq!(only(&texts).expect_err("no origination").variable, "LOCKDEV_SMS_ORIGINATION");
        let texts = [texts[0], texts[1], ("LOCKDEV_SMS_ORIGINATION", "+16175550199")];
        assert_eq!(only(&texts).expect_err("no voice").variable, "LOCKDEV_VOICE");
        let dev = config(&[("LOCKDEV_ENV", "development"), ("LOCKDEV_SMS", "dev"), ("LOCKDEV_VOICE", "dev")])
            .expect("dev");
        assert!(matches!(dev.messaging.text, TextConfig::DevOutbox));
    }

    #[test]
    fn development_defaults_are_complete() {
        let c = config(&[("LOCKDEV_ENV", "development")]).expect("valid");
        assert_eq!(c.http.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(c.http.public_url.as_str(), "http://localhost:3000/");
        assert!(c.http.trusted_hosts.contains(&"localhost".to_owned()));
        assert_eq!(c.database.max_connections, 10);
        assert!(c.database.runtime_url().is_err());
    }

    #[test]
    fn production_is_the_default_and_demands_https() {
        let err = config(&[]).expect_err("production needs a public URL");
        assert_eq!(err.variable, "LOCKDEV_PUBLIC_URL");
        let err = config(&[("LOCKDEV_PUBLIC_URL", "http://clinic.example.com")]).expect_err("http refused");
        assert_eq!(err.variable, "LOCKDEV_PUBLIC_URL");
        let ok = config(&[
            ("LOCKDEV_PUBLIC_URL", "https://clinic.example.com"),
            ("LOCKDEV_DATA_KEY", "bG9ja2Rldi10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE="),
            ("LOCKDEV_MAILER", "ses"),
            ("LOCKDEV_SES_REGION", "us-east-1"),
        ])
        .expect("https accepted");
        assert_eq!(ok.http.trusted_hosts, vec!["clinic.example.com".to_owned()]);
    }

    #[test]
    fn production_database_urls_must_verify_tls() {
        let err = config(&[
            ("LOCKDEV_PUBLIC_URL", "https://clinic.example.com"),
            ("LOCKDEV_DATABASE_URL", "postgres://app:pw@db.internal/lockdev"),
        ])
        .expect_err("no sslmode");
        assert_eq!(err.variable, "LOCKDEV_DATABASE_URL");
        config(&[
            ("LOCKDEV_PUBLIC_URL", "https://clinic.example.com"),
            ("LOCKDEV_DATABASE_URL", "postgres://app:pw@db.internal/lockdev?sslmode=verify-full"),
            ("LOCKDEV_DATA_KEY", "bG9ja2Rldi10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE="),
            ("LOCKDEV_MAILER", "smtp"),
            ("LOCKDEV_SMTP_URL", "smtps://u:p@mail.example.com:465"),
        ])
        .expect("verify-full accepted");
    }

    #[test]
    fn a_bad_database_url_is_named_without_echoing_the_password() {
        let err =
            config(&[("LOCKDEV_ENV", "development"), ("LOCKDEV_DATABASE_URL", "mysql://u:hunter2@x/y")])
                .expect_err("not postgres");
        assert_eq!(err.variable, "LOCKDEV_DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"));
        let debug = format!("{:?}", Secret::new("hunter2"));
        assert!(!debug.contains("hunter2"));
    }

    #[test]
    fn each_numeric_setting_reports_its_range() {
        for (var, bad) in [
            ("LOCKDEV_REQUEST_TIMEOUT_SECS", "0"),
            ("LOCKDEV_REQUEST_TIMEOUT_SECS", "ten"),
            ("LOCKDEV_BODY_LIMIT_BYTES", "12"),
            ("LOCKDEV_DB_MAX_CONNECTIONS", "0"),
            ("LOCKDEV_DB_ACQUIRE_TIMEOUT_MS", "-5"),
            ("LOCKDEV_RATE_LIMIT_BURST", "0"),
        ] {
            let err = config(&[("LOCKDEV_ENV", "development"), (var, bad)]).expect_err(var);
            assert_eq!(err.variable, var);
            assert!(err.to_string().contains("between"), "{err}");
        }
    }

    #[test]
    fn trusted_proxies_accept_addresses_and_ranges_only() {
        let c =
            config(&[("LOCKDEV_ENV", "development"), ("LOCKDEV_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7")])
                .expect("valid");
        assert_eq!(c.http.trusted_proxies.len(), 2);
        let err = config(&[("LOCKDEV_ENV", "development"), ("LOCKDEV_TRUSTED_PROXIES", "lb.internal")])
            .expect_err("names are not addresses");
        assert_eq!(err.variable, "LOCKDEV_TRUSTED_PROXIES");
    }

    #[test]
    fn trusted_hosts_reject_schemes_and_ports() {
        for bad in ["https://a.example", "a.example:443", "a example"] {
            let err =
                config(&[("LOCKDEV_ENV", "development"), ("LOCKDEV_TRUSTED_HOSTS", bad)]).expect_err(bad);
            assert_eq!(err.variable, "LOCKDEV_TRUSTED_HOSTS");
        }
    }

    #[test]
    fn production_needs_its_own_data_key_and_a_real_mailer() {
        let base = [("LOCKDEV_PUBLIC_URL", "https://clinic.example.com")];
        let err = config(&base).expect_err("no key");
        assert_eq!(err.variable, "LOCKDEV_DATA_KEY");
        let err = config(&[base[0], ("LOCKDEV_DATA_KEY", "c2hvcnQ=")]).expect_err("short key");
        assert_eq!(err.variable, "LOCKDEV_DATA_KEY");
        let key = ("LOCKDEV_DATA_KEY", "bG9ja2Rldi10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE=");
        let err = config(&[base[0], key]).expect_err("no mailer");
        assert_eq!(err.variable, "LOCKDEV_MAILER");
        let err = config(&[base[0], key, ("LOCKDEV_MAILER", "dev")]).expect_err("dev mailbox");
        assert_eq!(err.variable, "LOCKDEV_MAILER");
        let c = config(&[base[0], key, ("LOCKDEV_MAILER", "ses"), ("LOCKDEV_SES_REGION", "eu-west-1")])
            .expect("valid");
        assert!(c.auth.secure_cookies);
        assert_eq!(c.auth.staff_idle, Duration::from_secs(15 * 60));
        assert_eq!(c.auth.absolute, Duration::from_secs(12 * 3600));
    }

    #[test]
    fn rate_limit_zero_turns_it_off() {
        let c =
            config(&[("LOCKDEV_ENV", "development"), ("LOCKDEV_RATE_LIMIT_PER_SECOND", "0")]).expect("valid");
        assert!(c.http.rate_limit.is_none());
    }
}
