//! `LOCKDEV_JOB_WORKERS`, the lease and the shutdown grace.

use super::ConfigError;
use super::parse::parse_in_range;

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

pub(super) fn read(get: &impl Fn(&str) -> Option<String>) -> Result<JobsConfig, ConfigError> {
    Ok(JobsConfig {
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
    })
}
