//! A token bucket per client address, the first line against floods and scripted abuse.
//!
//! Keyed by the resolved [`ClientIp`] (never by a header a client can set), IPv6 grouped
//! by /64 because one subscriber usually holds a whole /64. Time comes from the injected
//! [`Clock`](crate::clock::Clock), so tests exhaust and refill a bucket without sleeping.
//!
//! The buckets live in this process. With several instances behind a load balancer each
//! enforces its own share, which is what a flood limit needs; the per-account sign-in
//! throttling that must hold across instances is kept in the database instead.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};

use crate::config::RateLimit;
use crate::error::error_response;
use crate::web::AppState;
use crate::web::client_ip::{self, ClientIp};

const SHARDS: usize = 16;
/// Past this many tracked addresses in a shard, idle (full) buckets are dropped.
const PRUNE_ABOVE: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: DateTime<Utc>,
}

pub struct RateLimiter {
    limit: Option<RateLimit>,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
    hasher: RandomState,
}

impl RateLimiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Takes one token for `ip` at `now`; `Err(seconds)` says how long until one is free.
    pub fn check(&self, ip: IpAddr, now: DateTime<Utc>) -> Result<(), u64> {
        let Some(limit) = self.limit else { return Ok(()) };
        let key = bucket_key(ip);
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let mut buckets = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let capacity = f64::from(limit.burst);
        let refill = |bucket: &Bucket| {
            // A clock that stepped backwards refills nothing rather than going negative.
            let elapsed = (now - bucket.updated).num_milliseconds().max(0) as f64 / 1000.0;
            (bucket.tokens + elapsed * limit.per_second).min(capacity)
        };
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| refill(b) < capacity);
        }
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: capacity, updated: now });
        let tokens = refill(bucket);
        bucket.updated = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(((1.0 - tokens) / limit.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// IPv6 addresses share a bucket per /64.
fn bucket_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

/// Middleware: resolves the client address (kept in the request for later use, such as
/// audit), then spends a token or answers 429 with `Retry-After`.
pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = client_ip::peer_of(req.extensions());
    let ip = client_ip::resolve(peer, req.headers(), &state.config.http.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    match state.rate_limiter.check(ip, state.clock.now()) {
        Ok(()) => next.run(req).await,
        Err(retry_after) => {
            tracing::warn!(reason = "rate_limited", "request refused");
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many requests from your network. Please wait {retry_after} second{} and try again.",
                    if retry_after == 1 { "" } else { "s" }
                ),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("valid")
    }

    #[test]
    fn a_burst_is_allowed_then_refused_then_refilled() {
        let limiter = RateLimiter::new(Some(RateLimit { per_second: 2.0, burst: 3 }));
        let ip: IpAddr = "198.51.100.1".parse().expect("ip");
        for _ in 0..3 {
            assert_eq!(limiter.check(ip, at(0)), Ok(()));
        }
        assert_eq!(limiter.check(ip, at(0)), Err(1));
        // Another address is unaffected.
        assert_eq!(limiter.check("198.51.100.2".parse().expect("ip"), at(0)), Ok(()));
        // Half a second later one token is back.
        assert_eq!(limiter.check(ip, at(0) + TimeDelta::milliseconds(500)), Ok(()));
    }

    #[test]
    fn ipv6_neighbours_in_one_slash_64_share_a_bucket() {
        let limiter = RateLimiter::new(Some(RateLimit { per_second: 1.0, burst: 1 }));
        assert_eq!(limiter.check("2001:db8::1".parse().expect("ip"), at(0)), Ok(()));
        assert!(limiter.check("2001:db8::ffff".parse().expect("ip"), at(0)).is_err());
        assert_eq!(limiter.check("2001:db8:0:1::1".parse().expect("ip"), at(0)), Ok(()));
    }

    #[test]
    fn no_limit_means_no_refusal() {
        let limiter = RateLimiter::new(None);
        for _ in 0..10_000 {
            assert_eq!(limiter.check("198.51.100.1".parse().expect("ip"), at(0)), Ok(()));
        }
    }
}
