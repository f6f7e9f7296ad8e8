//! `lockdev bench seed`: deterministic synthetic clinics for the benchmarks.
//!
//! Each clinic is generated inside PostgreSQL (`INSERT ... SELECT` over `generate_series`,
//! with `setseed` fixed per clinic), in that clinic's tenant transaction, as the owner
//! role with row-level security in force. COPY would be the usual tool, but PostgreSQL
//! refuses `COPY FROM` into tables with row-level security for any role that does not
//! bypass it, and no role of ours does; generating on the server sends no rows over the
//! wire at all.
//!
//! Row triggers cost ten times the insert itself in bulk (row history images, the search
//! tokens, the context directory: about 300 µs a patient), so while it runs the generator
//! switches the user triggers of the tables it fills off (and on again, also when it
//! fails) and builds the search tokens in one set-based statement instead. Two clinics are
//! generated at a time, one per owner connection. Bench rows
//! therefore have no row history (they were never "changed" by anyone); everything the
//! application reads is as production writes it. Never run against production (the
//! command refuses), and only the owner role can do it at all.
//!
//! Names are made of syllables (no real person's name), family names drawn so that a
//! few are common (the most frequent about 1% of a clinic, like a common surname) and
//! most are rare. Households share a phone number (every three patients), a quarter of
//! the patients have an e-mail address, every patient has a primary provider, an
//! appointment over the last year and a half, and every fourth a signed note.

use std::time::Instant;

use futures_util::StreamExt;
use sqlx::PgPool;

use crate::auth::password;
use crate::crypto::DataKey;
use crate::db::ids::{OrganizationId, UserId};
use crate::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};

/// The staff member the benchmarks sign in as (front desk at the first clinic).
pub(crate) const BENCH_DESK_EMAIL: &str = "desk@bench.example";
pub(crate) const BENCH_PASSWORD: &str = "bench-password-2026";
/// Base32 authenticator secret of the bench desk user (benchmark data only).
pub(crate) const BENCH_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// Front-desk staff for the mixed flow (S11): `desk000@bench.example` … spread over the
/// clinics (desk `k` works at clinic `k % clinics`), with the same password and
/// authenticator secret as the bench desk user.
pub(crate) const BENCH_DESK_STAFF: usize = 500;

fn desk_staff_email(k: usize) -> String {
    format!("desk{k:03}@bench.example")
}

#[derive(Debug, Default)]
pub struct BenchSummary {
    pub organizations: usize,
    pub patients: u64,
    pub rows: u64,
    pub seconds: f64,
}

/// A fixed id from a label, so repeated runs produce the same rows.
fn fixed_id(label: &str) -> uuid::Uuid {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(label.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn desk_staff_id(k: usize) -> uuid::Uuid {
    fixed_id(&format!("bench desk staff {k}"))
}

/// The fortunes of benchmark S1 (see [`crate::bench::fortunes`]): twelve sayings, some with
/// characters the page must escape and some outside ASCII, as the page's shape asks.
const FORTUNES: [&str; 12] = [
    "Measure twice, commit once.",
    "<script>alert('the chart is open')</script>",
    "A clinic runs on coffee & kind words.",
    "The audit log remembers what you forget.",
    "Ein Pflaster ist kein Plan.",
    "早寝早起き、病知らず。",
    "Every index is a promise to the planner.",
    "Patience is also a kind of patient.",
    "\"Quoted\" words keep their quotes.",
    "Slow queries wait for no one.",
    "A locked door is a friendly door.",
    "Ten minutes of triage saves an hour of worry.",
];

/// Creates (or refreshes) `bench.fortune`, readable by the runtime role. It lives in a
/// schema of its own: it is benchmark data, not part of the application's schema.
pub async fn seed_fortunes(owner: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS bench;
         CREATE TABLE IF NOT EXISTS bench.fortune (id integer PRIMARY KEY, message text NOT NULL);
         GRANT USAGE ON SCHEMA bench TO lockdev_runtime;
         GRANT SELECT ON bench.fortune TO lockdev_runtime;",
    )
    .execute(owner)
    .await?;
    sqlx::query(
        "INSERT INTO bench.fortune (id, message)
         SELECT ordinality::integer, message FROM unnest($1::text[]) WITH ORDINALITY AS f(message)
         ON CONFLICT (id) DO UPDATE SET message = excluded.message",
    )
    .bind(FORTUNES.as_slice())
    .execute(owner)
    .await?;
    Ok(())
}

/// Valid NPIs (Luhn over the 80840 prefix) for each clinic's ten providers (the schedule
/// grid's benchmark is a ten-provider clinic's day).
const NPIS: [&str; 10] = [
    "1234567893",
    "1245319599",
    "1234567802",
    "1234567877",
    "1234567943",
    "1234568016",
    "1234568081",
    "1234568156",
    "1234568222",
    "1234568297",
];

pub async fn seed(
    owner: &PgPool,
    key: &DataKey,
    organizations: usize,
    patients_per_org: u32,
) -> anyhow::Result<BenchSummary> {
    let started = Instant::now();
    let mut summary = BenchSummary { organizations, ..BenchSummary::default() };
    seed_fortunes(owner).await?;
    let hash = password::hash_blocking(BENCH_PASSWORD);
    let desk = UserId::from_uuid(fixed_id("bench desk"));

    let mut tx = begin_system(owner, &SystemContext::default()).await?;
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, email_verified_at)
         VALUES ($1, $2, 'Bench Desk', $3, now()) ON CONFLICT DO NOTHING",
    )
    .bind(desk)
    .bind(BENCH_DESK_EMAIL)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    let staff: Vec<uuid::Uuid> = (0..BENCH_DESK_STAFF).map(desk_staff_id).collect();
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, email_verified_at)
         SELECT id, email, 'Desk ' || ordinality, $3, now() FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS s(id, email)
         ON CONFLICT DO NOTHING",
    )
    .bind(&staff)
    .bind((0..BENCH_DESK_STAFF).map(desk_staff_email).collect::<Vec<_>>())
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    for n in 0..organizations {
        let org = fixed_id(&format!("bench org {n}"));
        summary.rows += sqlx::query(
            "INSERT INTO organizations (id, name, timezone) VALUES ($1, $2, 'America/New_York') ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(format!("Bench Clinic {n:02}"))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for p in 0..NPIS.len() {
            sqlx::query(
                "INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(fixed_id(&format!("bench provider {n} {p}")))
            .bind(format!("provider{p}.clinic{n}@bench.example"))
            .bind(format!("Dr. Bench {n}-{p}"))
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;

    let secret = totp_rs::Secret::Encoded(BENCH_TOTP_SECRET.to_owned())
        .to_bytes()
        .map_err(|_| anyhow::anyhow!("bench secret"))?;
    // The bench desk user and the S11 staff share one authenticator secret. Each person's
    // second factor is visible only in a transaction acting as them.
    for person in std::iter::once(desk).chain(staff.iter().copied().map(UserId::from_uuid)) {
        let mut tx =
            begin_system(owner, &SystemContext { user_id: Some(person), ..Default::default() }).await?;
        sqlx::query(
            "INSERT INTO totp_credentials (user_id, secret_ciphertext, confirmed_at) VALUES ($1, $2, now())
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(person)
        .bind(key.encrypt(&secret))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }

    // Two clinics at a time, one per owner connection: generation is CPU-bound on the
    // server, and each clinic's random stream is seeded on its own, so the data does not
    // depend on which connection made it.
    let clinic = |n: usize| {
        let staff = (n..BENCH_DESK_STAFF).step_by(organizations).map(desk_staff_id).collect::<Vec<_>>();
        seed_clinic_once(owner, n, staff, desk, patients_per_org)
    };
    set_fill_triggers(owner, false).await?;
    let generated = async {
        let mut clinics = futures_util::stream::iter(0..organizations).map(clinic).buffer_unordered(2);
        while let Some(result) = clinics.next().await {
            let (n, rows, patients) = result?;
            summary.rows += rows;
            summary.patients += patients;
            tracing::info!(clinic = n, rows = summary.rows, "bench clinic generated");
        }
        anyhow::Ok(())
    }
    .await;
    // Back on whether or not generation worked: a failed run must not leave a database
    // whose row history and search tokens stop being kept.
    set_fill_triggers(owner, true).await?;
    generated?;
    let mut tx = begin_system(owner, &SystemContext::default()).await?;
    sqlx::query("ANALYZE").execute(&mut *tx).await?;
    tx.commit().await?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Bench clinic `n`'s memberships, and its patients unless it has some already.
/// Returns the clinic's number, rows written and patients it holds.
async fn seed_clinic_once(
    owner: &PgPool,
    n: usize,
    staff: Vec<uuid::Uuid>,
    desk: UserId,
    patients_per_org: u32,
) -> anyhow::Result<(usize, u64, u64)> {
    let org = OrganizationId::from_uuid(fixed_id(&format!("bench org {n}")));
    let mut tx = begin_tenant(owner, &TenantContext::system(org)).await?;
    sqlx::query(
        "INSERT INTO memberships (organization_id, user_id, role)
         SELECT $1, id, 'admin_staff' FROM unnest($2::uuid[]) AS id ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(staff)
    .execute(&mut *tx)
    .await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM patients").fetch_one(&mut *tx).await?;
    if existing > 0 {
        tx.commit().await?;
        return Ok((n, 0, existing as u64));
    }
    if n == 0 {
        sqlx::query(
            "INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'admin_staff') ON CONFLICT DO NOTHING",
        )
        .bind(org)
        .bind(desk)
        .execute(&mut *tx)
        .await?;
    }
    let rows = seed_clinic(&mut tx, n, org, patients_per_org).await?;
    tx.commit().await?;
    Ok((n, rows, u64::from(patients_per_org)))
}

async fn seed_clinic(
    tx: &mut sqlx::PgConnection,
    n: usize,
    org: OrganizationId,
    patients: u32,
) -> anyhow::Result<u64> {
    let mut rows = 0;
    let org_id = org.as_uuid();
    // Same sequence of random numbers for the same clinic on every run.
    sqlx::query("SELECT setseed($1)").bind(((n as f64) + 1.0) / 1000.0).execute(&mut *tx).await?;
    let mut providers = Vec::new();
    for (p, npi) in NPIS.iter().enumerate() {
        let user = fixed_id(&format!("bench provider {n} {p}"));
        let provider = fixed_id(&format!("bench provider record {n} {p}"));
        sqlx::query("INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'provider')")
            .bind(org_id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO providers (organization_id, id, user_id, npi, credentials, specialty)
             VALUES ($1, $2, $3, $4, 'MD', 'Family medicine')",
        )
        .bind(org_id)
        .bind(provider)
        .bind(user)
        .bind(npi)
        .execute(&mut *tx)
        .await?;
        providers.push((provider, user));
    }
    let kind = fixed_id(&format!("bench visit kind {n}"));
    sqlx::query("INSERT INTO appointment_types (organization_id, id, name, duration_minutes) VALUES ($1, $2, 'Visit', 30)")
        .bind(org_id)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends)
         SELECT $1, p, d, '08:00', '18:00' FROM unnest($2::uuid[]) AS p, generate_series(1, 7) AS d",
    )
    .bind(org_id)
    .bind(providers.iter().map(|p| p.0).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;

    // Patients: syllable names; family names skewed (index = 8000 * r^2).
    rows += sqlx::query(
        r#"WITH s AS (SELECT ARRAY['ka','lo','mer','ton','vi','sa','den','ri','bel','mon',
                                   'ta','ne','gro','lin','ha','dor','pe','sul','var','zo'] AS syl),
                draw AS (
                    SELECT g, floor(8000 * random() ^ 2)::int AS fam, floor(400 * random())::int AS giv,
                           random() AS r_dob, random() AS r_sex
                      FROM generate_series(1, $2::int) AS g)
           INSERT INTO patients (organization_id, id, mrn, given_name, family_name, date_of_birth, legal_sex,
                                 is_self_managed)
           SELECT $1, md5($1::text || ' patient ' || g)::uuid, 'B' || lpad(g::text, 7, '0'),
                  initcap(syl[1 + giv % 20] || syl[1 + (giv / 20) % 20]),
                  initcap(syl[1 + fam % 20] || syl[1 + (fam / 20) % 20] || syl[1 + (fam / 400) % 20]),
                  DATE '1930-01-01' + floor(r_dob * 34000)::int,
                  CASE WHEN r_sex < 0.49 THEN 'female' WHEN r_sex < 0.98 THEN 'male' ELSE 'unknown' END,
                  r_dob < 0.95
             FROM draw, s"#,
    )
    .bind(org_id)
    .bind(patients as i32)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // A third of the patients live in households of three that share one mobile number
    // (patients 3h, 3h+1 and 3h+2 for h divisible by 3 hold 2000000 + h); everyone else
    // has a number of their own (3000000 + g). A quarter have an e-mail address.
    rows += sqlx::query(
        "INSERT INTO contact_methods (organization_id, patient_id, kind, value, is_primary, is_safe_for_sms, is_safe_for_voicemail)
         SELECT $1, md5($1::text || ' patient ' || g)::uuid, 'mobile',
                '+1617' || CASE WHEN (g / 3) % 3 = 0 THEN 2000000 + g / 3 ELSE 3000000 + g END,
                true, g % 5 <> 0, g % 7 <> 0
           FROM generate_series(1, $2::int) AS g",
    )
    .bind(org_id)
    .bind(patients as i32)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    rows += sqlx::query(
        "INSERT INTO contact_methods (organization_id, patient_id, kind, value, is_primary, is_safe_for_email)
         SELECT $1, md5($1::text || ' patient ' || g)::uuid, 'email', 'patient' || g || '.clinic' || $3 || '@bench.example', true, true
           FROM generate_series(1, $2::int) AS g WHERE g % 4 = 0",
    )
    .bind(org_id)
    .bind(patients as i32)
    .bind(n as i32)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let provider_ids: Vec<uuid::Uuid> = providers.iter().map(|p| p.0).collect();
    let provider_users: Vec<uuid::Uuid> = providers.iter().map(|p| p.1).collect();
    rows += sqlx::query(
        "INSERT INTO care_team_members (organization_id, patient_id, provider_id, role)
         SELECT $1, md5($1::text || ' patient ' || g)::uuid, ($3::uuid[])[1 + g % 2], 'primary'
           FROM generate_series(1, $2::int) AS g",
    )
    .bind(org_id)
    .bind(patients as i32)
    .bind(&provider_ids)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // One appointment each: provider g % 10, consecutive 30-minute slots from 08:00 to
    // 16:00 clinic time, sixteen a day per provider, on the days around the day of the
    // run (so today's schedule is a full day of ten providers, as a clinic's is).
    let providers_n = provider_ids.len() as i32;
    rows += sqlx::query(
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at, status, reason)
         SELECT $1, md5($1::text || ' patient ' || g)::uuid, ($3::uuid[])[1 + g % $5], $4, t, t + interval '30 minutes',
                CASE WHEN t < now() THEN 'completed' ELSE 'booked' END, 'Routine visit'
           FROM generate_series(1, $2::int) AS g,
                LATERAL (SELECT (date_trunc('day', now() AT TIME ZONE 'America/New_York') + interval '8 hours'
                                 - ($2::int / $5 / 16 / 2) * interval '1 day'
                                 + ((g / $5) / 16) * interval '1 day'
                                 + ((g / $5) % 16) * interval '30 minutes') AT TIME ZONE 'America/New_York' AS t) AS slot",
    )
    .bind(org_id)
    .bind(patients as i32)
    .bind(&provider_ids)
    .bind(kind)
    .bind(providers_n)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Each live visit's hold on its provider's time, as the appointments trigger keeps it.
    rows += sqlx::query(
        "INSERT INTO provider_busy_times (organization_id, appointment_id, user_id, starts_at, ends_at)
         SELECT a.organization_id, a.id, pr.user_id, a.starts_at, a.ends_at
           FROM appointments a
           JOIN providers pr ON pr.organization_id = a.organization_id AND pr.id = a.provider_id
          WHERE a.organization_id = $1 AND a.status IN ('booked', 'checked_in', 'completed')",
    )
    .bind(org_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    rows += sqlx::query(
        "INSERT INTO clinical_notes (organization_id, patient_id, author_user_id, title, subjective, assessment, plan,
                                     status, signed_at, signed_by)
         SELECT $1, md5($1::text || ' patient ' || g)::uuid, ($3::uuid[])[1 + g % 2], 'Routine visit',
                'Doing well; no new complaints.', 'Stable.', 'Follow up in a year.', 'signed', now(), ($3::uuid[])[1 + g % 2]
           FROM generate_series(1, $2::int) AS g WHERE g % 4 = 0",
    )
    .bind(org_id)
    .bind(patients as i32)
    .bind(&provider_users)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // The search tokens the per-row trigger would have written, in one statement.
    rows += sqlx::query(
        "INSERT INTO patient_search_tokens (organization_id, token, patient_id)
         SELECT p.organization_id, t, p.id
           FROM patients p, search_tokens(concat_ws(' ', p.given_name, p.middle_name, p.family_name, p.preferred_name)) AS t
          WHERE p.deleted_at IS NULL
         ON CONFLICT DO NOTHING",
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(rows)
}

/// Switches the user triggers of the tables the generator fills off or on, in a
/// transaction of its own. Switching them inside each clinic's transaction would hold
/// those tables' exclusive locks until it commits, one clinic at a time.
async fn set_fill_triggers(owner: &PgPool, enabled: bool) -> anyhow::Result<()> {
    let verb = if enabled { "ENABLE" } else { "DISABLE" };
    let mut tx = begin_system(owner, &SystemContext::default()).await?;
    for table in FILLED {
        sqlx::query(&format!("ALTER TABLE {table} {verb} TRIGGER USER")).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Appends `rows` synthetic audit events spread evenly over the clinics and over the past
/// year (one event every few minutes per clinic, oldest first), for the audit-growth
/// benchmark. Each clinic's events go in its own tenant transactions, in chunks, on two
/// connections at once (appends do not block each other). Returns the rows written.
pub(crate) async fn seed_audit(
    owner: &PgPool,
    organizations: usize,
    patients_per_org: u32,
    rows: u64,
) -> anyhow::Result<u64> {
    if rows == 0 || organizations == 0 {
        return Ok(0);
    }
    let mut tx = begin_system(owner, &SystemContext::default()).await?;
    sqlx::query("SELECT audit_ensure_partitions((now() - interval '13 months')::date, now()::date)")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;

    const CHUNK: u64 = 250_000;
    let per_clinic = rows.div_ceil(organizations as u64);
    let desk = fixed_id("bench desk");
    let mut work = Vec::new();
    for n in 0..organizations {
        let org = OrganizationId::from_uuid(fixed_id(&format!("bench org {n}")));
        let mut start = 0;
        while start < per_clinic {
            let end = (start + CHUNK).min(per_clinic);
            work.push((org, start, end));
            start = end;
        }
    }
    let step_seconds = (365.0 * 86_400.0 / per_clinic as f64).max(0.001);
    // The chunks are of equal size: each connection takes half of them.
    let second_half = work.split_off(work.len() / 2);
    let worker = |share: Vec<(OrganizationId, u64, u64)>| async move {
        let mut written = 0u64;
        for (org, start, end) in share {
            let mut tx = begin_tenant(owner, &TenantContext::system(org)).await?;
            written += sqlx::query(
                "INSERT INTO audit_events (organization_id, occurred_at, actor_user_id, actor_kind, role, action,
                                           resource_type, resource_id, patient_id, purpose, outcome, ip, user_agent)
                 SELECT $1, now() - interval '365 days' + g * make_interval(secs => $5), $4, 'user', 'admin_staff',
                        'read', 'patient', pid, pid, 'chart.summary', 'success', '127.0.0.1', 'bench'
                   FROM generate_series($2::bigint + 1, $3::bigint) AS g,
                        LATERAL (SELECT md5($1::text || ' patient ' || (1 + g % $6))::uuid AS pid) AS p",
            )
            .bind(org)
            .bind(start as i64)
            .bind(end as i64)
            .bind(desk)
            .bind(step_seconds)
            .bind(i64::from(patients_per_org.max(1)))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
        }
        anyhow::Ok(written)
    };
    let (a, b) = tokio::try_join!(worker(work), worker(second_half))?;
    let mut tx = begin_system(owner, &SystemContext::default()).await?;
    sqlx::query("ANALYZE audit_events").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(a + b)
}

/// The tables the generator fills (fixed names, never input).
const FILLED: [&str; 7] = [
    "patients",
    "contact_methods",
    "care_team_members",
    "appointments",
    "clinical_notes",
    "provider_working_hours",
    "appointment_types",
];
