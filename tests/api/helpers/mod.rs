//! The test harness: the real application on a real port, against a fresh database per
//! test, with the app's pool connected as the runtime role.
//!
//! Databases: the first test (of any process) to need one migrates a template database
//! named after the migrations' checksums, under an advisory lock; every test then clones
//! it (`CREATE DATABASE … TEMPLATE`), which takes milliseconds. Connection details come
//! from `LOCKDEV_DATABASE_URL` (runtime role) and `LOCKDEV_MIGRATION_DATABASE_URL` (owner
//! role, may create databases), which `just test` provides.

#![allow(dead_code)]

mod app;
mod browser;
mod database;

use std::io::Write as _;
use std::path::PathBuf;

pub use app::*;
pub use browser::*;
pub use database::*;

/// The repository root (for scripts and files the tests read).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (relative to the repository root), recursively.
pub fn files_under(dir: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![repo_root().join(dir)];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).expect("read dir").map(|e| e.expect("dir entry").path()));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Writes to stderr without going through the test harness capture (debugging aid).
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}
