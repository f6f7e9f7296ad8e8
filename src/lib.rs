//! Lockdev: a multi-tenant practice platform for clinics, served as one binary.
//!
//! The modules are layers; each uses only the ones listed before it (a test reads the
//! source to keep it so; `docs/architecture.md` draws it):
//!
//! 1. `config`, `clock`, `error`, `db`, `crypto`, `contact_info`, `telemetry`
//! 2. `audit`, `integrations`
//! 3. `jobs`, then `notify`, then `auth`
//! 4. `web` (HTTP plumbing; knows no feature)
//! 5. `chart` (the frame the chart sections plug into)
//! 6. the features, one folder each, none using another
//! 7. `app` (the composition root), `cli`, `bench`
//!
//! `main.rs` only calls [`cli::main`]; tests start the application through [`app`].

pub mod app;
pub mod audit;
pub mod audit_search;
pub mod auth;
pub mod bench;
pub mod chart;
pub mod cli;
pub mod clock;
pub mod config;
pub mod contact_info;
pub mod crypto;
pub mod db;
pub mod error;
pub mod integrations;
pub mod jobs;
pub mod notify;
pub mod telemetry;
pub mod web;

// Features.
pub mod account;
pub mod allergies;
pub mod appointments;
pub mod break_glass;
pub mod care_team;
pub mod clinic_profile;
pub mod clinic_settings;
pub mod consent_documents;
pub mod contacts;
pub mod contexts;
pub mod dev;
pub mod emergency_contacts;
pub mod health;
pub mod home;
pub mod homes;
pub mod impersonation;
pub mod insurance;
pub mod invitations;
pub mod medications;
pub mod members;
pub mod merges;
pub mod notes;
pub mod patient_access;
pub mod patients;
pub mod platform_clinics;
pub mod platform_health;
pub mod platform_roles;
pub mod problems;
pub mod profiles;
pub mod signin;
pub mod tasks;
pub mod text_messages;
pub mod vitals;
