//! Lockdev: a multi-tenant practice platform for clinics, served as one binary.
//!
//! `main.rs` is the command line; everything else lives here so integration tests build
//! exactly the application production runs (see [`build_app`]).

pub mod account;
pub mod appointments;
pub mod audit;
pub mod auth;
pub mod bench_data;
pub mod care_team;
pub mod clinic_settings;
pub mod clock;
pub mod config;
pub mod contacts;
pub mod contexts;
pub mod db;
pub mod demo;
pub mod dev_mailbox;
pub mod fortunes;
pub mod health;
pub mod home;
pub mod integrations;
pub mod invitations;
pub mod jobs;
pub mod members;
pub mod notes;
pub mod notify;
pub mod patient_access;
pub mod patients;
pub mod signin;
pub mod tasks;
pub mod telemetry;
pub mod text_messages;
pub mod web;

use axum::Router;

pub use web::AppState;

/// The whole application for `state`: every feature's routes behind the middleware stack.
pub fn build_app(state: AppState) -> Router {
    web::app(state, web::routes())
}
