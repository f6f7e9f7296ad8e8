//! External services, each behind a small trait with a local default implementation, so
//! the whole product runs and is tested on one machine without a cloud account.

pub mod mail;

/// Chooses the TLS implementation for every client in the process (Postgres, SMTP, AWS,
/// HTTP). Several crates link rustls with different crypto back-ends (the AWS SDK brings
/// aws-lc-rs, the others ring); with two present rustls cannot pick one by itself and
/// would fail at the first TLS connection. Call once at start-up; later calls do nothing.
pub fn install_tls_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
