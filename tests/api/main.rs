//! Integration tests: the real application over real HTTP against a real PostgreSQL,
//! connected as the runtime role. One binary, so it links once.

// Tests state their expectations by panicking.
#![allow(clippy::panic, clippy::unwrap_used)]

mod fixtures;
mod helpers;

mod audit_log;
mod aws_channels;
mod break_glass;
mod browser;
mod cli;
mod clinic_profile;
mod compliance;
mod consent;
mod csrf;
mod data_model;
mod form_input;
mod fortunes;
mod headers;
mod health;
mod history;
mod impersonation;
mod invitations;
mod jobs;
mod layers;
mod live;
mod logging;
mod mail;
mod messaging;
mod mfa;
mod modules;
mod pages;
mod phi_audit;
mod pipeline;
mod platform;
mod registry;
mod seed;
mod sessions;
mod sign_in;
mod step_up;
mod tenancy;
mod workspace;
