//! Authentication and authorization: who someone is, and what they may do. Domain only:
//! no HTTP here. The functions take what they need (a transaction, the session handle,
//! the session rules, the time) as arguments; `web/` turns requests into those.
//!
//! [`policy`] is the one place that decides "may this context do X to that patient";
//! handlers ask it and never re-implement it. [`password`] hashes and verifies passwords.

pub mod contexts;
pub(crate) mod emails;
pub mod notices;
pub mod passkeys;
pub mod password;
pub(crate) mod password_policy;
pub mod people;
pub mod policy;
pub mod recovery;
pub mod session;
pub mod session_store;
pub mod sessions;
pub(crate) mod signin;
pub mod throttle;
pub mod tokens;
pub mod totp;
