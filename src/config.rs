//! Configuration: read from environment variables once at start-up, validated, typed.
//!
//! Every problem is reported as one line naming the variable and what it expects
//! ([`ConfigError`]), so `lockdev check-config` and a failing start-up say exactly what to
//! fix. Values that are secrets (database URLs carry passwords) are wrapped in [`Secret`]
//! and never echoed back, not even in an error.
//!
//! There is no global config: [`Config::from_lookup`] takes a lookup function, so tests
//! build as many configurations as they like without touching the process environment.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use sqlx::postgres::PgConnectOptions;
use url::Url;

/// A value that must never reach a log line, an error page or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call sites should be few and obvious.
    pub fn expose(&self) -> &T {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The runtime role: owns no table, has no BYPASSRLS. Every request uses it.
    pub runtime_url: Option<Secret<String>>,
    /// The owner role that runs migrations and seeds; never used to serve requests.
    pub migration_url: Option<Secret<String>>,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// The longest one statement of the runtime role may run (a pathological search is
    /// cancelled, not left holding a connection). Zero: no limit (maintenance commands).
    pub statement_timeout: Duration,
}

impl DatabaseConfig {
    pub fn runtime_url(&self) -> Result<&Secret<String>, ConfigError> {
        self.runtime_url.as_ref().ok_or_else(|| {
            ConfigError::new(
                "LOCKDEV_DATABASE_URL",
                "required: a postgres:// URL for the runtime role (no ownership, no BYPASSRLS)",
            )
        })
    }

    pub fn migration_url(&self) -> Result<&Secret<String>, ConfigError> {
        self.migration_url.as_ref().ok_or_else(|| {
            ConfigError::new(
                "LOCKDEV_MIGRATION_DATABASE_URL",
                "required for this command: a postgres:// URL for the owner role that runs migrations",
            )
        })
    }
}

/// A token bucket per client address.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind: SocketAddr,
    /// The address users type; used for absolute links and the default trusted host.
    pub public_url: Url,
    /// Host names (lower case, no port) this server answers for; anything else gets 400.
    pub trusted_hosts: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed (load balancers, reverse proxies).
    pub trusted_proxies: Vec<IpNet>,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    /// `None` turns the per-address limit off (benchmarks only).
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info,sqlx=warn`.
    pub filter: String,
}

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
    pub fn absolute_limit(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.absolute).unwrap_or(chrono::TimeDelta::hours(12))
    }
}

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

/// Where automated texts go.
#[derive(Debug, Clone)]
pub enum TextConfig {
    /// Stored in the database and shown at `/dev/outbox`. Development only.
    DevOutbox,
    /// AWS End User Messaging SMS (`pinpoint-sms-voice-v2` SendTextMessage) from an
    /// origination identity (a phone number, its ARN or a pool).
    EndUserMessaging { region: String, endpoint: Option<Url>, origination: String },
}

/// Where automated calls go.
#[derive(Debug, Clone)]
pub enum VoiceConfig {
    /// Stored in the database and shown at `/dev/outbox`. Development only.
    DevOutbox,
    /// Amazon Connect StartOutboundVoiceContact through a contact flow that reads the
    /// `message` contact attribute aloud.
    Connect {
        region: String,
        endpoint: Option<Url>,
        instance_id: String,
        contact_flow_id: String,
        source_phone: String,
    },
}

#[derive(Debug, Clone)]
pub struct MessagingConfig {
    pub text: TextConfig,
    pub voice: VoiceConfig,
    /// The SNS topic AWS End User Messaging delivers inbound texts to; inbound messages
    /// from any other topic are refused. Unset: the inbound endpoint answers 404.
    pub inbound_topic_arn: Option<String>,
    /// A PEM certificate trusted for SNS signatures instead of fetching the one the
    /// message names (tests and air-gapped installs).
    pub sns_certificate_file: Option<std::path::PathBuf>,
    /// Accept SNS signature version 1 (RSA with SHA-1). Off: only version 2 (SHA-256),
    /// which the topic must be set to send (`SignatureVersion=2`).
    pub sns_allow_sha1: bool,
}

/// The job workers inside `lockdev serve` (and `lockdev worker`).
#[derive(Debug, Clone, Copy)]
pub struct JobsConfig {
    /// Jobs worked at once by this process; 0 = none (another process works them).
    pub workers: usize,
    /// Seconds a claim holds before another worker may take the job over.
    pub lease_seconds: i64,
    /// Seconds in-flight jobs get to finish at shutdown.
    pub shutdown_seconds: u64,
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

/// The key used when none is configured in development: known to everyone, so it is
/// refused in production.
const DEVELOPMENT_DATA_KEY: [u8; 32] = *b"lockdev-development-only-key-32b";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`; an empty value counts as unset.
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

        let runtime_url = database_url(get("LOCKDEV_DATABASE_URL"), "LOCKDEV_DATABASE_URL", production)?;
        let migration_url = database_url(
            get("LOCKDEV_MIGRATION_DATABASE_URL"),
            "LOCKDEV_MIGRATION_DATABASE_URL",
            production,
        )?;

        let bind: SocketAddr = parse_or(
            get("LOCKDEV_BIND"),
            "LOCKDEV_BIND",
            "127.0.0.1:3000".parse().expect("valid literal"),
            "a socket address such as 127.0.0.1:3000",
        )?;

        let public_url = match get("LOCKDEV_PUBLIC_URL") {
            Some(raw) => Url::parse(&raw)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    ConfigError::new(
                        "LOCKDEV_PUBLIC_URL",
                        format!(
                            "expected an absolute http(s) URL such as https://clinic.example.com, got {raw:?}"
                        ),
                    )
                })?,
            None if production => {
                return Err(ConfigError::new(
                    "LOCKDEV_PUBLIC_URL",
                    "required in production: the https:// address users reach this server at",
                ));
            }
            // Passkeys need a host name (WebAuthn refuses IP addresses), and browsers treat
            // http://localhost as a secure context: a loopback bind is served as localhost.
            None => {
                let host = if bind.ip().is_loopback() || bind.ip().is_unspecified() {
                    "localhost".to_owned()
                } else {
                    bind.ip().to_string()
                };
                Url::parse(&format!("http://{host}:{}", bind.port())).map_err(|_| {
                    ConfigError::new(
                        "LOCKDEV_PUBLIC_URL",
                        "could not derive a default from LOCKDEV_BIND; set it",
                    )
                })?
            }
        };
        if production && public_url.scheme() != "https" {
            return Err(ConfigError::new(
                "LOCKDEV_PUBLIC_URL",
                "must be an https:// URL in production (patient data never travels over plain http)",
            ));
        }

        let trusted_hosts = match get("LOCKDEV_TRUSTED_HOSTS") {
            Some(raw) => {
                let hosts: Vec<String> =
                    raw.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
                if let Some(bad) = hosts.iter().find(|h| !is_host_name(h)) {
                    return Err(ConfigError::new(
                        "LOCKDEV_TRUSTED_HOSTS",
                        format!("expected comma-separated host names without scheme or port, got {bad:?}"),
                    ));
                }
                hosts
            }
            None => {
                let mut hosts = vec![public_url.host_str().unwrap_or_default().to_ascii_lowercase()];
                if !production {
                    for local in ["localhost", "127.0.0.1", "[::1]"] {
                        if !hosts.iter().any(|h| h == local) {
                            hosts.push(local.to_owned());
                        }
                    }
                }
                hosts
            }
        };

        let trusted_proxies = match get("LOCKDEV_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    IpNet::from_str(p)
                        .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            ConfigError::new(
                                "LOCKDEV_TRUSTED_PROXIES",
                                format!("expected comma-separated IP addresses or CIDR ranges such as 10.0.0.0/8, got {p:?}"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };

        let request_timeout = Duration::from_secs(parse_in_range(
            get("LOCKDEV_REQUEST_TIMEOUT_SECS"),
            "LOCKDEV_REQUEST_TIMEOUT_SECS",
            30,
            1..=600,
            "whole seconds",
        )?);
        let body_limit_bytes = parse_in_range(
            get("LOCKDEV_BODY_LIMIT_BYTES"),
            "LOCKDEV_BODY_LIMIT_BYTES",
            2 * 1024 * 1024,
            1024..=1024 * 1024 * 1024,
            "a size in bytes",
        )?;

        let per_second = parse_in_range(
            get("LOCKDEV_RATE_LIMIT_PER_SECOND"),
            "LOCKDEV_RATE_LIMIT_PER_SECOND",
            20,
            0..=1_000_000,
            "requests per second per client address (0 turns the limit off)",
        )?;
        let burst = parse_in_range(
            get("LOCKDEV_RATE_LIMIT_BURST"),
            "LOCKDEV_RATE_LIMIT_BURST",
            100,
            1..=1_000_000,
            "the number of requests a client may send at once",
        )?;
        let rate_limit = (per_second > 0).then_some(RateLimit { per_second: f64::from(per_second), burst });

        let max_connections = parse_in_range(
            get("LOCKDEV_DB_MAX_CONNECTIONS"),
            "LOCKDEV_DB_MAX_CONNECTIONS",
            10,
            1..=500,
            "the size of the runtime connection pool",
        )?;
        let acquire_timeout = Duration::from_millis(parse_in_range(
            get("LOCKDEV_DB_ACQUIRE_TIMEOUT_MS"),
            "LOCKDEV_DB_ACQUIRE_TIMEOUT_MS",
            3000,
            50..=60_000,
            "milliseconds to wait for a pooled connection before answering 503",
        )?);
        let statement_timeout = Duration::from_millis(parse_in_range(
            get("LOCKDEV_DB_STATEMENT_TIMEOUT_MS"),
            "LOCKDEV_DB_STATEMENT_TIMEOUT_MS",
            5000,
            1..=600_000,
            "milliseconds one database statement of a request may run before it is cancelled",
        )?);

        let format = match get("LOCKDEV_LOG_FORMAT").as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOCKDEV_LOG_FORMAT",
                    format!("expected `json` or `text`, got {other:?}"),
                ));
            }
        };
        let filter = get("LOCKDEV_LOG").unwrap_or_else(|| "info,sqlx=warn,tower_http=warn".to_owned());
        if tracing_subscriber::EnvFilter::try_new(&filter).is_err() {
            return Err(ConfigError::new(
                "LOCKDEV_LOG",
                format!("expected a log filter such as `info` or `info,lockdev=debug`, got {filter:?}"),
            ));
        }

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
        let messaging = messaging_config(&get, production)?;
        let jobs = JobsConfig {
            workers: parse_in_range(
                get("LOCKDEV_JOB_WORKERS"),
                "LOCKDEV_JOB_WORKERS",
                4,
                0..=64,
                "jobs worked at once",
            )?,
            lease_seconds: parse_in_range(
                get("LOCKDEV_JOB_LEASE_SECONDS"),
                "LOCKDEV_JOB_LEASE_SECONDS",
                120,
                2..=3600,
                "seconds a job claim holds",
            )?,
            shutdown_seconds: parse_in_range(
                get("LOCKDEV_JOB_SHUTDOWN_SECONDS"),
                "LOCKDEV_JOB_SHUTDOWN_SECONDS",
                20,
                0..=600,
                "seconds in-flight jobs get at shutdown",
            )?,
        };
        let from = get("LOCKDEV_MAIL_FROM").unwrap_or_else(|| {
            format!("Lockdev <no-reply@{}>", public_url.host_str().unwrap_or("localhost"))
        });

        Ok(Self {
            environment,
            http: HttpConfig {
                bind,
                public_url,
                trusted_hosts,
                trusted_proxies,
                request_timeout,
                body_limit_bytes,
                rate_limit,
            },
            database: DatabaseConfig {
                runtime_url,
                migration_url,
                max_connections,
                acquire_timeout,
                statement_timeout,
            },
            auth: AuthConfig { data_key, staff_idle, patient_idle, absolute, secure_cookies },
            mail: MailConfig { mailer, from },
            messaging,
            jobs,
            log: LogConfig { format, filter },
        })
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

fn database_url(
    raw: Option<String>,
    variable: &'static str,
    production: bool,
) -> Result<Option<Secret<String>>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    // The URL holds a password: never include it in the message.
    let options = PgConnectOptions::from_str(&raw)
        .ok()
        .filter(|_| raw.starts_with("postgres://") || raw.starts_with("postgresql://"))
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                "expected a URL such as postgres://user:password@host:5432/database (value not shown: it may hold a password)",
            )
        })?;
    if production && !matches!(options.get_ssl_mode(), sqlx::postgres::PgSslMode::VerifyFull) {
        return Err(ConfigError::new(
            variable,
            "must use ?sslmode=verify-full in production (TLS with a verified server certificate)",
        ));
    }
    Ok(Some(Secret::new(raw)))
}

/// The text and voice channels and the inbound-text settings.
fn messaging_config(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<MessagingConfig, ConfigError> {
    let required =
        |name: &'static str, why: &str| get(name).ok_or_else(|| ConfigError::new(name, why.to_owned()));
    let endpoint = |name: &'static str| match get(name) {
        None => Ok(None),
        Some(raw) => Url::parse(&raw)
            .map(Some)
            .map_err(|_| ConfigError::new(name, format!("expected a URL, got {raw:?}"))),
    };
    let text = match get("LOCKDEV_SMS").as_deref() {
        None | Some("dev") if !production => TextConfig::DevOutbox,
        None | Some("dev") => {
            return Err(ConfigError::new(
                "LOCKDEV_SMS",
                "required in production: `aws` (the dev outbox keeps texts locally)",
            ));
        }
        Some("aws") => TextConfig::EndUserMessaging {
            region: required("LOCKDEV_AWS_REGION", "required with LOCKDEV_SMS=aws, e.g. us-east-1")?,
            endpoint: endpoint("LOCKDEV_SMS_ENDPOINT")?,
            origination: required(
                "LOCKDEV_SMS_ORIGINATION",
                "required with LOCKDEV_SMS=aws: the sending number, its ARN or a pool id",
            )?,
        },
        Some(other) => {
            return Err(ConfigError::new("LOCKDEV_SMS", format!("expected `dev` or `aws`, got {other:?}")));
        }
    };
    let voice = match get("LOCKDEV_VOICE").as_deref() {
        None | Some("dev") if !production => VoiceConfig::DevOutbox,
        None | Some("dev") => {
            return Err(ConfigError::new(
                "LOCKDEV_VOICE",
                "required in production: `connect` (the dev outbox keeps calls locally)",
            ));
        }
        Some("connect") => VoiceConfig::Connect {
            region: required("LOCKDEV_AWS_REGION", "required with LOCKDEV_VOICE=connect, e.g. us-east-1")?,
            endpoint: endpoint("LOCKDEV_CONNECT_ENDPOINT")?,
            instance_id: required("LOCKDEV_CONNECT_INSTANCE_ID", "required with LOCKDEV_VOICE=connect")?,
            contact_flow_id: required(
                "LOCKDEV_CONNECT_CONTACT_FLOW_ID",
                "required with LOCKDEV_VOICE=connect",
            )?,
            source_phone: required(
                "LOCKDEV_CONNECT_SOURCE_PHONE",
                "required with LOCKDEV_VOICE=connect: the calling number in E.164",
            )?,
        },
        Some(other) => {
            return Err(ConfigError::new(
                "LOCKDEV_VOICE",
                format!("expected `dev` or `connect`, got {other:?}"),
            ));
        }
    };
    Ok(MessagingConfig {
        text,
        voice,
        inbound_topic_arn: get("LOCKDEV_SMS_INBOUND_TOPIC_ARN"),
        sns_certificate_file: get("LOCKDEV_SNS_CERTIFICATE_FILE").map(std::path::PathBuf::from),
        sns_allow_sha1: match get("LOCKDEV_SNS_ALLOW_SHA1").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOCKDEV_SNS_ALLOW_SHA1",
                    format!("expected `true` or `false`, got {other:?}"),
                ));
            }
        },
    })
}

fn parse_or<T: FromStr>(
    raw: Option<String>,
    variable: &'static str,
    default: T,
    expected: &str,
) -> Result<T, ConfigError> {
    match raw {
        None => Ok(default),
        Some(raw) => {
            raw.parse().map_err(|_| ConfigError::new(variable, format!("expected {expected}, got {raw:?}")))
        }
    }
}

fn parse_in_range<T>(
    raw: Option<String>,
    variable: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    what: &str,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let value =
        parse_or(raw, variable, default, &format!("{what} between {} and {}", range.start(), range.end()))?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            variable,
            format!("expected {what} between {} and {}, got {value}", range.start(), range.end()),
        ))
    }
}

fn is_host_name(host: &str) -> bool {
    let bracketed_v6 = host.starts_with('[') && host.ends_with(']');
    bracketed_v6
        || (!host.contains([':', '/', ' '])
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
