//! Demonstration data for `lockdev seed-demo` and `just run`.
//!
//! Seeding is idempotent: it may run on every `just run`. It runs as the owner role,
//! after migrations. The demo clinics, staff and patients arrive with the tenancy data
//! model; until then there is nothing to create, and the command says so rather than
//! pretending.

use sqlx::PgPool;

use crate::db;

#[derive(Debug, Default)]
pub struct SeedSummary {
    pub created: usize,
    /// Sign-ins a developer can use, printed by `just run`.
    pub sign_ins: Vec<String>,
}

pub async fn seed(owner: &PgPool) -> anyhow::Result<SeedSummary> {
    let status = db::migration_status(owner).await?;
    anyhow::ensure!(
        status.is_current(),
        "the database schema is not current: run `lockdev migrate` first"
    );
    Ok(SeedSummary::default())
}
