//! External services, each behind a small trait with a local default implementation, so
//! the whole product runs and is tested on one machine without a cloud account.

pub mod mail;
