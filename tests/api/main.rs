//! Integration tests: the real application over real HTTP against a real PostgreSQL,
//! connected as the runtime role. One binary, so it links once.

// Tests state their expectations by panicking.
#![allow(clippy::panic, clippy::unwrap_used)]

mod helpers;

mod cli;
mod headers;
mod health;
mod logging;
mod pages;
mod pipeline;
