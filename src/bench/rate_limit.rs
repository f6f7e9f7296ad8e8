//! The per-address rate limiter under a flood spread over many addresses: what one check
//! costs, and how many addresses it ends up tracking, for the limiter as it is and for
//! the design it replaced (kept here only as the measured baseline). That design grew
//! without bound and, once a shard passed 4,096 addresses, walked the whole shard on
//! every request to drop idle buckets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::RateLimit;
use crate::web::rate_limit::RateLimiter;

/// Tokens and when they were counted.
type Bucket = (f64, DateTime<Utc>);

/// The replaced design: one map per shard, pruned on the request path.
struct Uncapped {
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
    limit: RateLimit,
}

impl Uncapped {
    fn check(&self, ip: IpAddr, now: DateTime<Utc>) -> bool {
        let shard = &self.shards[(u32::from(match ip {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        }) as usize)
            % self.shards.len()];
        let mut buckets = shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let capacity = f64::from(self.limit.burst);
        let per_second = self.limit.per_second;
        let refill = |(tokens, updated): &Bucket| {
            let elapsed = (now - *updated).num_milliseconds().max(0) as f64 / 1000.0;
            (tokens + elapsed * per_second).min(capacity)
        };
        if buckets.len() > 4096 {
            buckets.retain(|_, b| refill(b) < capacity);
        }
        let bucket = buckets.entry(ip).or_insert((capacity, now));
        let tokens = refill(bucket);
        bucket.1 = now;
        bucket.0 = if tokens >= 1.0 { tokens - 1.0 } else { tokens };
        tokens >= 1.0
    }

    fn tracked(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map(|m| m.len()).unwrap_or(0)).sum()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct FloodReport {
    pub addresses: u32,
    pub current_ns_per_check: f64,
    pub current_tracked: usize,
    pub replaced_ns_per_check: f64,
    pub replaced_tracked: usize,
}

/// `addresses` distinct addresses, each sending one request per second of simulated time
/// for `seconds`, against both limiters with the production limit.
pub(crate) fn flood(addresses: u32, seconds: i64) -> FloodReport {
    let limit = RateLimit { per_second: 20.0, burst: 100 };
    let start = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(20_000);
    let current = RateLimiter::new(Some(limit));
    let replaced = Uncapped { shards: (0..16).map(|_| Mutex::new(HashMap::new())).collect(), limit };
    let ip = |n: u32| IpAddr::V4(Ipv4Addr::from(0x0A00_0000 + n));
    let checks = f64::from(addresses) * seconds as f64;

    let began = Instant::now();
    for second in 0..seconds {
        let now = start + TimeDelta::seconds(second);
        for n in 0..addresses {
            let _ = current.check(ip(n), now);
        }
        // The background pruning, every ten seconds of simulated time.
        if second % 10 == 9 {
            current.prune(now);
        }
    }
    let current_ns = began.elapsed().as_nanos() as f64 / checks;

    let began = Instant::now();
    for second in 0..seconds {
        let now = start + TimeDelta::seconds(second);
        for n in 0..addresses {
            let _ = replaced.check(ip(n), now);
        }
    }
    let replaced_ns = began.elapsed().as_nanos() as f64 / checks;
    FloodReport {
        addresses,
        current_ns_per_check: current_ns,
        current_tracked: current.tracked(),
        replaced_ns_per_check: replaced_ns,
        replaced_tracked: replaced.tracked(),
    }
}
