//! A token bucket per client address, the first line against floods and scripted abuse.
//!
//! Keyed by the resolved [`ClientIp`] (never by a header a client can set), IPv6 grouped
//! by /64 because one subscriber usually holds a whole /64. Time comes from the injected
//! [`Clock`](crate::clock::Clock), so tests exhaust and refill a bucket without sleeping.
//!
//! The buckets live in this process. With several instances behind a load balancer each
//! enforces its own share, which is what a flood limit needs; the per-account sign-in
//! throttling that must hold across instances is kept in the database instead.
//!
//! Memory is bounded and a request never pays for housekeeping: each shard tracks at most
//! [`MAX_PER_SHARD`] addresses. Once a shard is full, an address it does not know shares
//! the shard's overflow bucket (a flood spread over many addresses is then limited as one
//! client, while the addresses already tracked keep their own buckets). Idle buckets (full
//! again) are dropped by [`RateLimiter::prune`], which a background task runs every few
//! seconds — never a request.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use ipnet::IpNet;

use crate::clock::SharedClock;
use crate::config::RateLimit;
use crate::error::error_response;
use crate::web::client_ip::{self, ClientIp};

const SHARDS: usize = 16;
/// Addresses tracked per shard (16 shards: 65,536 addresses, a few megabytes).
pub(crate) const MAX_PER_SHARD: usize = 4096;
/// How often idle buckets are dropped, off the request path.
pub(crate) const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: DateTime<Utc>,
}

struct Shard {
    buckets: HashMap<IpAddr, Bucket>,
    /// Shared by every address this shard has no room for.
    overflow: Bucket,
}

pub struct RateLimiter {
    limit: Option<RateLimit>,
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    max_per_shard: usize,
}

impl RateLimiter {
    /// For a form that guesses a secret (sign-in, second factor, reset, step-up): spends
    /// a token of `ip`, or answers 429 with when to try again.
    pub(crate) fn refuse(&self, ip: ClientIp, now: DateTime<Utc>) -> Option<Response> {
        self.check(ip.0, now).err().map(|retry_after| {
            let mut response = error_response(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many attempts from your network. Please wait {retry_after} seconds and try again."
                ),
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        })
    }

    pub fn new(limit: Option<RateLimit>) -> Self {
        Self::with_room(limit, MAX_PER_SHARD)
    }

    /// A limiter tracking at most `max_per_shard` addresses per shard (tests use a few).
    pub(crate) fn with_room(limit: Option<RateLimit>, max_per_shard: usize) -> Self {
        let full =
            Bucket { tokens: limit.map_or(0.0, |l| f64::from(l.burst)), updated: DateTime::UNIX_EPOCH };
        Self {
            limit,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(Shard { buckets: HashMap::new(), overflow: full }))
                .collect(),
            hasher: RandomState::new(),
            max_per_shard,
        }
    }

    /// Takes one token for `ip` at `now`; `Err(seconds)` says how long until one is free.
    pub fn check(&self, ip: IpAddr, now: DateTime<Utc>) -> Result<(), u64> {
        let Some(limit) = self.limit else { return Ok(()) };
        let key = bucket_key(ip);
        let shard = &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let capacity = f64::from(limit.burst);
        let shard = &mut *shard;
        let bucket = if shard.buckets.contains_key(&key) || shard.buckets.len() < self.max_per_shard {
            shard.buckets.entry(key).or_insert(Bucket { tokens: capacity, updated: now })
        } else {
            &mut shard.overflow
        };
        let tokens = refill(bucket, now, limit);
        bucket.updated = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(((1.0 - tokens) / limit.per_second).ceil().max(1.0) as u64)
        }
    }

    /// Drops the buckets that are full again (their address has been quiet): they hold
    /// nothing a new bucket would not. Run by the background task, never by a request.
    pub(crate) fn prune(&self, now: DateTime<Utc>) {
        let Some(limit) = self.limit else { return };
        let capacity = f64::from(limit.burst);
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            shard.buckets.retain(|_, b| refill(b, now, limit) < capacity);
        }
    }

    /// Addresses tracked now.
    pub(crate) fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(std::sync::PoisonError::into_inner).buckets.len())
            .sum()
    }

    /// Prunes every [`PRUNE_EVERY`] until the limiter is dropped.
    pub(crate) fn spawn_pruning(self: &Arc<Self>, clock: SharedClock) {
        let limiter = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PRUNE_EVERY);
            loop {
                tick.tick().await;
                let Some(limiter) = limiter.upgrade() else { return };
                limiter.prune(clock.now());
            }
        });
    }
}

/// The bucket's tokens at `now`. A clock that stepped backwards refills nothing rather
/// than going negative.
fn refill(bucket: &Bucket, now: DateTime<Utc>, limit: RateLimit) -> f64 {
    let elapsed = (now - bucket.updated).num_milliseconds().max(0) as f64 / 1000.0;
    (bucket.tokens + elapsed * limit.per_second).min(f64::from(limit.burst))
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

/// What the middleware needs: the limiter, whose `X-Forwarded-For` to believe, the clock.
#[derive(Clone)]
pub(crate) struct Limits {
    pub limiter: Arc<RateLimiter>,
    pub trusted_proxies: Arc<Vec<IpNet>>,
    pub clock: SharedClock,
}

/// Middleware: resolves the client address (kept in the request for later use, such as
/// audit), then spends a token or answers 429 with `Retry-After`.
pub(crate) async fn layer(State(limits): State<Limits>, mut req: Request, next: Next) -> Response {
    let peer = client_ip::peer_of(req.extensions());
    let ip = client_ip::resolve(peer, req.headers(), &limits.trusted_proxies);
    req.extensions_mut().insert(ClientIp(ip));
    match limits.limiter.check(ip, limits.clock.now()) {
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
    fn a_flood_from_many_addresses_is_capped_in_memory_and_shares_one_bucket_per_shard() {
        let limiter = RateLimiter::with_room(Some(RateLimit { per_second: 1.0, burst: 2 }), 4);
        let known: IpAddr = "198.51.100.7".parse().expect("ip");
        assert_eq!(limiter.check(known, at(0)), Ok(()));
        // Ten thousand addresses, once each: the map never grows past its room...
        let mut refused = 0;
        for n in 0..10_000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0A00_0000 + n));
            if limiter.check(ip, at(0)).is_err() {
                refused += 1;
            }
            assert!(limiter.tracked() <= 4 * SHARDS);
        }
        // ... the addresses it has no room for share a bucket, so most are refused ...
        assert!(refused > 9_000, "{refused}");
        // ... and an address it already knew keeps its own.
        assert_eq!(limiter.check(known, at(0)), Ok(()));
        // Quiet buckets are dropped by the pruning, not by requests.
        limiter.prune(at(60));
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn no_limit_means_no_refusal() {
        let limiter = RateLimiter::new(None);
        for _ in 0..10_000 {
            assert_eq!(limiter.check("198.51.100.1".parse().expect("ip"), at(0)), Ok(()));
        }
    }
}
