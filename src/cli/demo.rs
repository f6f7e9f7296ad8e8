//! Demonstration data for `lockdev seed-demo` and `just run`.
//!
//! Two clinics whose data look alike on purpose — the same patient names and the same
//! phone numbers in both — so a leak between tenants would show. Staff of every role, a
//! provider who works at both, a self-managed patient, a dependent with two proxies
//! holding different scopes, one person who is a patient at one clinic and a provider at
//! the other, contact methods with safe and unsafe flags, consent documents.
//!
//! Deterministic and idempotent: every id is derived from a fixed seed, every insert is
//! `ON CONFLICT DO NOTHING`, so running it again changes nothing. It runs as the owner
//! role, through the same tenant transactions the application uses (row-level security
//! is forced for the owner too). Refused in production.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::{PgConnection, PgPool};
use ulid::Ulid;
use uuid::Uuid;

use crate::auth::password;
use crate::crypto::DataKey;
use crate::db;
use crate::db::ids::{OrganizationId, PatientId, ProviderId, UserId};
use crate::db::tenant::{SystemContext, TenantContext, begin_system, begin_tenant};

/// The one password of every demo account. Demo data only, printed only locally.
pub(crate) const DEMO_PASSWORD: &str = "lockdev-demo-2026";

/// 2026-01-01T00:00:00Z: the timestamp part of every demo id.
const SEED_MILLIS: u64 = 1_767_225_600_000;

/// The `n`th demo id: fixed timestamp, `n` as the random part.
fn demo_id(n: u128) -> Ulid {
    Ulid::from_parts(SEED_MILLIS, n)
}

fn demo_uuid(n: u128) -> Uuid {
    Uuid::from(demo_id(n))
}

fn user(n: u128) -> UserId {
    UserId::from_ulid(demo_id(1_000 + n))
}

fn effective() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(SEED_MILLIS as i64).expect("valid")
}

#[derive(Debug, Default)]
pub struct SeedSummary {
    /// Rows inserted by this run (0 when the demo data were already there).
    pub created: u64,
    /// Sign-ins a developer can use, printed by `just run`.
    pub sign_ins: Vec<String>,
}

struct Person {
    n: u128,
    email: &'static str,
    name: &'static str,
    /// What to print next to the sign-in.
    about: &'static str,
}

const PEOPLE: &[Person] = &[
    Person { n: 1, email: "admin@riverside.example", name: "Avery Admin", about: "org admin, Riverside" },
    Person {
        n: 2,
        email: "dr.osei@riverside.example",
        name: "Dr. Kwame Osei",
        about: "provider at Riverside and Lakeside",
    },
    Person {
        n: 3,
        email: "nurse.kim@riverside.example",
        name: "Jordan Kim",
        about: "clinical staff, Riverside",
    },
    Person {
        n: 4,
        email: "desk.patel@riverside.example",
        name: "Priya Patel",
        about: "front desk, Riverside",
    },
    Person {
        n: 5,
        email: "agent.ruiz@riverside.example",
        name: "Luis Ruiz",
        about: "call center, Riverside",
    },
    Person { n: 6, email: "admin@lakeside.example", name: "Blake Admin", about: "org admin, Lakeside" },
    Person {
        n: 7,
        email: "desk.nguyen@lakeside.example",
        name: "Minh Nguyen",
        about: "front desk, Lakeside",
    },
    Person {
        n: 8,
        email: "sam.rivera@example.com",
        name: "Sam Rivera",
        about: "patient at Riverside, provider at Lakeside",
    },
    Person {
        n: 9,
        email: "maria.lopez@example.com",
        name: "Maria Lopez",
        about: "self-managed patient, Riverside",
    },
    Person {
        n: 10,
        email: "dana.park@example.com",
        name: "Dana Park",
        about: "parent of Leo Park (all scopes), Riverside",
    },
    Person {
        n: 11,
        email: "chris.park@example.com",
        name: "Chris Park",
        about: "parent of Leo Park (scheduling only), Riverside",
    },
    Person {
        n: 12,
        email: "support@lockdev.example",
        name: "Robin Support",
        about: "platform support (super admin): clinics, roles, terms; no patient data",
    },
    Person {
        n: 13,
        email: "auditor@lockdev.example",
        name: "Alex Auditor",
        about: "compliance auditor (platform): the audit log of every clinic",
    },
];

/// (person, platform role) of the platform's own staff.
const PLATFORM_ROLES: &[(u128, &str)] = &[(12, "super_admin"), (13, "auditor")];

/// (person, organization index, role) for every staff membership.
const MEMBERSHIPS: &[(u128, usize, &str)] = &[
    (1, 0, "org_admin"),
    (2, 0, "provider"),
    (3, 0, "clinical_staff"),
    (4, 0, "admin_staff"),
    (5, 0, "call_center_agent"),
    (6, 1, "org_admin"),
    (2, 1, "provider"),
    (7, 1, "admin_staff"),
    (8, 1, "provider"),
];

/// A patient present in both clinics under the same name and numbers.
struct DemoPatient {
    n: u128,
    given: &'static str,
    family: &'static str,
    born: (i32, u32, u32),
    legal_sex: &'static str,
    /// The person who signs in as this patient (at Riverside only).
    login: Option<u128>,
    self_managed: bool,
}

const PATIENTS: &[DemoPatient] = &[
    DemoPatient {
        n: 1,
        given: "Maria",
        family: "Lopez",
        born: (1984, 5, 17),
        legal_sex: "female",
        login: Some(9),
        self_managed: true,
    },
    DemoPatient {
        n: 2,
        given: "Leo",
        family: "Park",
        born: (2016, 9, 3),
        legal_sex: "male",
        login: None,
        self_managed: false,
    },
    DemoPatient {
        n: 3,
        given: "Sam",
        family: "Rivera",
        born: (1979, 2, 11),
        legal_sex: "unknown",
        login: Some(8),
        self_managed: true,
    },
    DemoPatient {
        n: 4,
        given: "Grace",
        family: "Okafor",
        born: (1950, 12, 30),
        legal_sex: "female",
        login: None,
        self_managed: true,
    },
    // Only a home number nobody has asked about: her reminder is blocked, and the front
    // desk gets a task to call her.
    DemoPatient {
        n: 5,
        given: "Helen",
        family: "Brooks",
        born: (1962, 7, 21),
        legal_sex: "female",
        login: None,
        self_managed: true,
    },
];

/// A contact method with its safe-to-contact flags; households share numbers.
struct DemoContact {
    n: u128,
    patient: u128,
    kind: &'static str,
    value: &'static str,
    primary: bool,
    voicemail: bool,
    sms: bool,
    email: bool,
}

const CONTACTS: &[DemoContact] = &[
    DemoContact {
        n: 1,
        patient: 1,
        kind: "mobile",
        value: "+16175550101",
        primary: true,
        voicemail: true,
        sms: true,
        email: false,
    },
    DemoContact {
        n: 2,
        patient: 1,
        kind: "home",
        value: "+16175550102",
        primary: false,
        voicemail: false,
        sms: false,
        email: false,
    },
    DemoContact {
        n: 3,
        patient: 1,
        kind: "email",
        value: "maria.lopez@example.com",
        primary: true,
        voicemail: false,
        sms: false,
        email: true,
    },
    DemoContact {
        n: 4,
        patient: 2,
        kind: "mobile",
        value: "+16175550123",
        primary: true,
        voicemail: true,
        sms: true,
        email: false,
    },
    DemoContact {
        n: 5,
        patient: 3,
        kind: "mobile",
        value: "+16175550144",
        primary: true,
        voicemail: false,
        sms: false,
        email: false,
    },
    DemoContact {
        n: 6,
        patient: 4,
        kind: "home",
        value: "+16175550102",
        primary: true,
        voicemail: true,
        sms: false,
        email: false,
    },
    DemoContact {
        n: 7,
        patient: 5,
        kind: "home",
        value: "+16175550155",
        primary: true,
        voicemail: false,
        sms: false,
        email: false,
    },
];

/// The demo clinician's authenticator-app secret (base32), printed so a person can add it
/// to an app and sign in. Demo data only.
pub(crate) const DEMO_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

pub async fn seed(owner: &PgPool, production: bool, key: &DataKey) -> anyhow::Result<SeedSummary> {
    anyhow::ensure!(!production, "seed-demo refuses to run with LOCKDEV_ENV=production");
    let status = db::migration_status(&mut *db::tenant::platform_connection(owner).await?).await?;
    anyhow::ensure!(status.is_current(), "the database schema is not current: run `lockdev migrate` first");

    let mut summary = SeedSummary::default();
    let hash = password::hash_blocking(DEMO_PASSWORD);
    let orgs = [
        (OrganizationId::from_ulid(demo_id(1)), "Riverside Family Clinic", "America/New_York"),
        (OrganizationId::from_ulid(demo_id(2)), "Lakeside Family Clinic", "America/Chicago"),
    ];

    // Platform level: the clinics, the people, the terms of service.
    let mut tx = begin_system(owner, &SystemContext::default()).await?;
    for (id, name, zone) in orgs {
        summary.created += sqlx::query!(
            "INSERT INTO organizations (id, name, timezone) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            id.as_uuid(),
            name,
            zone
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    for person in PEOPLE {
        summary.created += sqlx::query!(
            r#"INSERT INTO users (id, email, display_name, password_hash, email_verified_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING"#,
            user(person.n).as_uuid(),
            person.email,
            person.name,
            hash,
            effective()
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        summary.sign_ins.push(format!("{:<32} {DEMO_PASSWORD}   {}", person.email, person.about));
    }
    for (n, role) in PLATFORM_ROLES {
        // The owner writes these directly: the runtime role grants only through the
        // console's checked function, and the demo has no super admin before this one.
        summary.created += sqlx::query!(
            r#"INSERT INTO platform_roles (id, user_id, role, granted_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT DO NOTHING"#,
            demo_uuid(20 + n),
            user(*n).as_uuid(),
            role,
            effective()
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    summary.created += sqlx::query!(
        r#"INSERT INTO consent_documents (id, organization_id, kind, version, title, body, effective_at)
           VALUES ($1, NULL, 'terms_of_service', '1', 'Lockdev terms of service',
                   'Demonstration terms of service. Not a real agreement.', $2)
           ON CONFLICT DO NOTHING"#,
        demo_uuid(10),
        effective()
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;

    for (index, (org, name, _)) in orgs.iter().enumerate() {
        let mut tx = begin_tenant(owner, &TenantContext::system(*org)).await?;
        summary.created += seed_clinic(&mut tx, index, *org, name).await?;
        tx.commit().await?;
    }

    // Dr. Osei has an authenticator app already, so a person can try signing in with a code.
    let osei = user(2);
    let secret = totp_rs::Secret::Encoded(DEMO_TOTP_SECRET.to_owned())
        .to_bytes()
        .map_err(|_| anyhow::anyhow!("demo secret"))?;
    let mut tx = begin_system(owner, &SystemContext { user_id: Some(osei), ..Default::default() }).await?;
    summary.created += sqlx::query!(
        r#"INSERT INTO totp_credentials (user_id, secret_ciphertext, confirmed_at) VALUES ($1, $2, $3)
           ON CONFLICT (user_id) DO NOTHING"#,
        osei.as_uuid(),
        key.encrypt(&secret),
        effective()
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    summary.sign_ins.push(format!(
        "authenticator-app secret of dr.osei@riverside.example (demo only): {DEMO_TOTP_SECRET}"
    ));
    summary.sign_ins.push(
        "staff without a second factor are asked to set one up at first sign-in; patients and proxies may skip it"
            .to_owned(),
    );
    Ok(summary)
}

/// One clinic's staff, patients, proxies, care teams, contacts and documents.
async fn seed_clinic(
    conn: &mut PgConnection,
    index: usize,
    org: OrganizationId,
    name: &str,
) -> anyhow::Result<u64> {
    let mut created = 0;
    // Ids differ per clinic (index picks a block), names and numbers do not.
    let local = |n: u128| demo_uuid(100_000 * (index as u128 + 1) + n);

    for (i, (person, at, role)) in MEMBERSHIPS.iter().enumerate() {
        if *at != index {
            continue;
        }
        created += sqlx::query!(
            r#"INSERT INTO memberships (organization_id, id, user_id, role, status)
               VALUES ($1, $2, $3, $4, 'active') ON CONFLICT DO NOTHING"#,
            org.as_uuid(),
            local(100 + i as u128),
            user(*person).as_uuid(),
            role
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if *role == "provider" {
            // Valid NPIs (check digit included); the same person keeps one NPI everywhere.
            let npi = if *person == 2 { "1234567893" } else { "1245319599" };
            created += sqlx::query!(
                r#"INSERT INTO providers (organization_id, id, user_id, npi, credentials, specialty)
                   VALUES ($1, $2, $3, $4, 'MD', 'Family medicine') ON CONFLICT DO NOTHING"#,
                org.as_uuid(),
                local(200 + *person),
                user(*person).as_uuid(),
                npi
            )
            .execute(&mut *conn)
            .await?
            .rows_affected();
        } else if *role != "org_admin" {
            created += sqlx::query!(
                r#"INSERT INTO staff (organization_id, id, user_id, employee_id, job_title)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"#,
                org.as_uuid(),
                local(300 + *person),
                user(*person).as_uuid(),
                format!("E{:04}", *person),
                match *role {
                    "clinical_staff" => "Registered nurse",
                    "call_center_agent" => "Patient services agent",
                    _ => "Front desk coordinator",
                }
            )
            .execute(&mut *conn)
            .await?
            .rows_affected();
        }
    }

    for p in PATIENTS {
        // Sam Rivera is a patient at Riverside only (he is a provider at Lakeside); the
        // namesakes elsewhere are separate people with no login.
        let linked = if index == 0 { p.login.map(|person| user(person).as_uuid()) } else { None };
        let (y, m, d) = p.born;
        created += sqlx::query!(
            r#"INSERT INTO patients (organization_id, id, user_id, mrn, given_name, family_name, date_of_birth,
                                     legal_sex, is_self_managed, timezone)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL) ON CONFLICT DO NOTHING"#,
            org.as_uuid(),
            local(1_000 + p.n),
            linked,
            format!("{}-{:05}", if index == 0 { "RFC" } else { "LFC" }, p.n),
            p.given,
            p.family,
            NaiveDate::from_ymd_opt(y, m, d).expect("valid demo date"),
            p.legal_sex,
            p.self_managed
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    let patient = |n: u128| PatientId::from_uuid(local(1_000 + n));
    let provider = |person: u128| ProviderId::from_uuid(local(200 + person));

    // The same numbers in both clinics: households share phones.
    for c in CONTACTS {
        created += sqlx::query!(
            r#"INSERT INTO contact_methods (organization_id, id, patient_id, kind, value, is_primary,
                                            is_safe_for_voicemail, is_safe_for_sms, is_safe_for_email, verified_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"#,
            org.as_uuid(),
            local(2_000 + c.n),
            patient(c.patient).as_uuid(),
            c.kind,
            c.value,
            c.primary,
            c.voicemail,
            c.sms,
            c.email,
            effective()
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }

    // Dr. Osei is everyone's primary provider at both clinics.
    for p in 1..=4u128 {
        created += sqlx::query!(
            r#"INSERT INTO care_team_members (organization_id, id, patient_id, provider_id, role)
               VALUES ($1, $2, $3, $4, 'primary') ON CONFLICT DO NOTHING"#,
            org.as_uuid(),
            local(3_000 + p),
            patient(p).as_uuid(),
            provider(2).as_uuid()
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }

    if index == 0 {
        // Leo Park (a minor) has two parents with different scopes; the grants end on
        // his 18th birthday.
        let majority = DateTime::<Utc>::from_naive_utc_and_offset(
            NaiveDate::from_ymd_opt(2034, 9, 3).expect("valid").and_hms_opt(0, 0, 0).expect("valid"),
            Utc,
        );
        let grants: &[(u128, u128, bool, bool, bool, bool)] =
            &[(1, 10, true, true, true, true), (2, 11, false, false, true, false)];
        for (n, person, clinical, billing, scheduling, messaging) in grants {
            created += sqlx::query!(
                r#"INSERT INTO patient_proxy_assignments
                       (organization_id, id, patient_id, proxy_user_id, relationship, can_view_clinical,
                        can_view_billing, can_schedule, can_message, starts_at, expires_at, status)
                   VALUES ($1, $2, $3, $4, 'parent', $5, $6, $7, $8, $9, $10, 'active') ON CONFLICT DO NOTHING"#,
                org.as_uuid(),
                local(4_000 + n),
                patient(2).as_uuid(),
                user(*person).as_uuid(),
                clinical,
                billing,
                scheduling,
                messaging,
                effective(),
                majority
            )
            .execute(&mut *conn)
            .await?
            .rows_affected();
            // The front desk confirmed that the parent's address takes the child's messages
            // (once the grant exists, the parent is one of the clinic's people).
            sqlx::query!(
                "UPDATE patient_proxy_assignments a
                    SET messages_safe_at = a.starts_at, messages_safe_by = $2, messages_safe_email = u.email
                   FROM users u
                  WHERE a.id = $1 AND u.id = a.proxy_user_id AND a.messages_safe_at IS NULL",
                local(4_000 + n),
                user(4).as_uuid()
            )
            .execute(&mut *conn)
            .await?;
        }
        // A license that expires soon, for the provider's profile.
        created += sqlx::query!(
            r#"INSERT INTO provider_licenses (organization_id, id, provider_id, state, license_number, expires_on)
               VALUES ($1, $2, $3, 'MA', '281734', $4) ON CONFLICT DO NOTHING"#,
            org.as_uuid(),
            local(5_001),
            provider(2).as_uuid(),
            (effective() + TimeDelta::days(400)).date_naive()
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }

    created += seed_schedule_and_notes(conn, index, org).await?;

    for (n, kind, title) in [
        (1u128, "privacy_notice", "Notice of privacy practices"),
        (2, "sms", "Text message terms"),
        (3, "treatment", "Consent to treatment"),
    ] {
        created += sqlx::query!(
            r#"INSERT INTO consent_documents (id, organization_id, kind, version, title, body, effective_at)
               VALUES ($1, $2, $3, '1', $4, $5, $6) ON CONFLICT DO NOTHING"#,
            local(6_000 + n),
            org.as_uuid(),
            kind,
            format!("{name}: {title}"),
            format!("Demonstration text of {name}'s {title}. Not a real document."),
            effective()
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(created)
}

/// Visit kinds, working hours (Monday to Friday, 09:00-17:00 clinic time), today's
/// appointments, and notes: a signed note, a draft, and a behavioural-health note only
/// the care team's providers see. Maria Lopez asked for confidential communication (her
/// home number is unsafe for messages).
async fn seed_schedule_and_notes(
    conn: &mut PgConnection,
    index: usize,
    org: OrganizationId,
) -> anyhow::Result<u64> {
    let mut created = 0;
    let local = |n: u128| demo_uuid(100_000 * (index as u128 + 1) + n);
    let patient = |n: u128| local(1_000 + n);
    let provider = local(200 + 2);
    // The number automated messages ask people to call back.
    created += sqlx::query!(
        "UPDATE organizations SET callback_phone = '+16175550100' WHERE id = $1 AND callback_phone IS NULL",
        org.as_uuid()
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    created += sqlx::query!(
        "UPDATE patients SET confidential_communication = true,
                confidential_note = 'Do not leave messages on the home phone. Mobile only.'
          WHERE organization_id = $1 AND id = $2 AND NOT confidential_communication",
        org.as_uuid(),
        patient(1)
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    for (n, name, minutes) in [(1u128, "New patient", 40), (2, "Follow-up", 20), (3, "Annual physical", 30)] {
        created += sqlx::query!(
            "INSERT INTO appointment_types (organization_id, id, name, duration_minutes) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            org.as_uuid(),
            local(7_000 + n),
            name,
            minutes
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    for weekday in 1..=5i16 {
        created += sqlx::query!(
            "INSERT INTO provider_working_hours (organization_id, id, provider_id, weekday, starts, ends)
             VALUES ($1, $2, $3, $4, '09:00', '17:00') ON CONFLICT DO NOTHING",
            org.as_uuid(),
            local(7_100 + weekday as u128),
            provider,
            weekday
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    // Today (on the clinic's clock) at 09:00, 09:30 and 10:30; whatever day the demo is
    // loaded, so the front desk's day view has something on it.
    let zone: chrono_tz::Tz = chrono_tz::America::New_York;
    let today = Utc::now().with_timezone(&zone).date_naive();
    // Tomorrow's visits fall inside the 24-hour reminder lead, so a running server plans
    // their reminders at once: Maria's goes by e-mail (never to her unsafe home number),
    // Leo's to the parent whose grant covers scheduling, and Helen's is blocked with the reason.
    let tomorrow = today + chrono::Days::new(1);
    let visits: [(u128, u128, u32, u32, i64, &str, NaiveDate); 6] = [
        (1, 1, 9, 0, 20, "Blood pressure check", today),
        (2, 3, 9, 30, 30, "Annual physical", today),
        (3, 4, 10, 30, 40, "New to the clinic", today),
        (4, 1, 11, 0, 20, "Lab results", tomorrow),
        (5, 2, 11, 30, 20, "Vaccines", tomorrow),
        (6, 5, 14, 0, 20, "Knee pain", tomorrow),
    ];
    for (n, who, hour, minute, minutes, reason, day) in visits {
        let Some(start) = crate::appointments::domain::instant(
            zone,
            day,
            chrono::NaiveTime::from_hms_opt(hour, minute, 0).expect("valid time"),
        )
        .ok() else {
            continue;
        };
        let kind = match minutes {
            20 => 2u128,
            30 => 3,
            _ => 1,
        };
        created += sqlx::query!(
            "INSERT INTO appointments (organization_id, id, patient_id, provider_id, appointment_type_id, starts_at, ends_at, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            org.as_uuid(),
            local(7_200 + n),
            patient(who),
            provider,
            local(7_000 + kind),
            start,
            start + TimeDelta::minutes(minutes),
            reason
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    let signed_at = effective();
    // (n, title, subjective, objective, plan, sensitive category, signed)
    type DemoNote =
        (u128, &'static str, &'static str, &'static str, &'static str, Option<&'static str>, bool);
    let notes: [DemoNote; 3] = [
        (
            1,
            "Follow-up: blood pressure",
            "Feels well. Home readings in the 130s over 80s.",
            "BP 132/84, HR 72.",
            "Continue lisinopril 10 mg; recheck in 3 months.",
            None,
            true,
        ),
        (
            2,
            "Counselling session",
            "Reports low mood for several weeks.",
            "Alert, engaged.",
            "Weekly sessions; safety plan reviewed.",
            Some("behavioral_health"),
            true,
        ),
        (
            3,
            "Phone call",
            "Asked about a medication refill.",
            "",
            "Refill sent; confirm at next visit.",
            None,
            false,
        ),
    ];
    for (n, title, subjective, objective, plan, category, signed) in notes {
        created += sqlx::query!(
            "INSERT INTO clinical_notes (organization_id, id, patient_id, author_user_id, title, subjective, objective,
                                         plan, sensitive_category, status, signed_at, signed_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
            org.as_uuid(),
            local(7_300 + n),
            patient(1),
            user(2).as_uuid(),
            title,
            subjective,
            objective,
            plan,
            category,
            if signed { "signed" } else { "draft" },
            signed.then_some(signed_at),
            signed.then(|| user(2).as_uuid())
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(created)
}
