//! Authentication and authorization: who someone is, and what they may do.
//!
//! [`policy`] is the one place that decides "may this context do X to that patient";
//! handlers ask it and never re-implement it. [`password`] hashes and verifies passwords.

pub mod password;
pub mod policy;
