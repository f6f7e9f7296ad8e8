//! Authentication and authorization: who someone is, and what they may do.
//!
//! [`policy`] is the one place that decides "may this context do X to that patient";
//! handlers ask it and never re-implement it. [`password`] hashes and verifies passwords.

pub mod contexts;
pub mod crypto;
pub mod emails;
pub mod middleware;
pub mod passkeys;
pub mod password;
pub mod password_policy;
pub mod policy;
pub mod recovery;
pub mod session;
pub mod session_store;
pub mod sessions;
pub mod signin;
pub mod throttle;
pub mod tokens;
pub mod totp;
