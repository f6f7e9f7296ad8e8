//! `LOCKDEV_BIND`, `LOCKDEV_PUBLIC_URL`, trusted hosts and proxies, the request time
//! limit, the body limit and the per-address rate limit.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use super::ConfigError;
use super::parse::{is_host_name, parse_in_range, parse_or};

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

/// The listener, the public address, trusted hosts and proxies, time and size limits.
pub(super) fn read(
    get: &impl Fn(&str) -> Option<String>,
    production: bool,
) -> Result<HttpConfig, ConfigError> {
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
                ConfigError::new("LOCKDEV_PUBLIC_URL", "could not derive a default from LOCKDEV_BIND; set it")
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
    Ok(HttpConfig {
        bind,
        public_url,
        trusted_hosts,
        trusted_proxies,
        request_timeout,
        body_limit_bytes,
        rate_limit,
    })
}
