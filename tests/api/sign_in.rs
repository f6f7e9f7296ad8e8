//! Signing in: password storage and policy, brute force, lock-out abuse, enumeration,
//! reset, hashing under load, address limits and return paths (AUTH-01..08, RL-01,
//! WEB-09).

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use chrono::TimeDelta;
use lockdev::auth::throttle::MAX_LOCK;
use lockdev::clock::Clock as _;

use crate::helpers::{Browser, Person, TestApp, csrf_from, spawn_app, totp_code};

/// An application that believes `X-Forwarded-For` from the test client, so each request
/// can come from an address of the test's choosing.
async fn behind_a_proxy() -> TestApp {
    spawn_app().env("LOCKDEV_TRUSTED_PROXIES", "127.0.0.1/32").spawn().await
}

async fn staff_member(app: &TestApp, email: &str) -> Person {
    let org = app.organization("Sign-in Clinic").await;
    let person = app.with_totp(app.person(email, "quiet lake morning 42").await).await;
    app.member(org, &person, "clinical_staff").await;
    person
}

/// One sign-in attempt from `ip` with a fresh session.
async fn attempt_from(app: &TestApp, ip: &str, email: &str, password: &str) -> reqwest::Response {
    let browser = app.browser();
    let page =
        browser.client.get(browser.url("/sign-in")).header("X-Forwarded-For", ip).send().await.expect("page");
    let token = csrf_from(&page.text().await.expect("body")).expect("token");
    browser
        .client
        .post(browser.url("/sign-in"))
        .header("X-Forwarded-For", ip)
        .form(&[("email", email), ("password", password), ("csrf_token", &token)])
        .send()
        .await
        .expect("request")
}

/// The `login_failed` audit events for `person`, by reason.
async fn failures_by_reason(app: &TestApp, person: &Person) -> (i64, i64) {
    let mut su = app.database().superuser().await;
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE details->>'reason' = 'credentials'),
                count(*) FILTER (WHERE details->>'reason' = 'locked')
           FROM audit_events WHERE action = 'login_failed' AND resource_id = $1",
    )
    .bind(person.id)
    .fetch_one(&mut su)
    .await
    .expect("audit")
}

async fn stored_hash(app: &TestApp, person: &Person) -> String {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(person.id)
        .fetch_one(&mut su)
        .await
        .expect("hash")
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_with_owasp_parameters_and_a_salt_of_their_own() {
    // AUTH-01: hashes made by the application (a password change), read back as stored.
    let app = spawn_app().spawn().await;
    let mut hashes = Vec::new();
    for email in ["one@clinic.example", "two@clinic.example"] {
        let person = staff_member(&app, email).await;
        let browser = app.browser();
        browser.sign_in_fully(&person, &app.clock).await;
        let res = browser.post_form("/account/password", &[("password", "the very same new phrase")]).await;
        assert_eq!(res.status(), 200);
        hashes.push(stored_hash(&app, &person).await);
    }
    for hash in &hashes {
        let parts: Vec<&str> = hash.split('$').collect();
        assert_eq!(parts.len(), 6, "a PHC string: {hash}");
        assert_eq!((parts[1], parts[2]), ("argon2id", "v=19"));
        let params: Vec<u32> =
            parts[3].split(',').map(|p| p.split_once('=').expect("k=v").1.parse().expect("number")).collect();
        assert!(params[0] >= 19_456 && params[1] >= 2 && params[2] == 1, "m, t, p: {params:?}");
        assert!(parts[4].len() >= 22, "a salt of at least 16 bytes");
    }
    assert_ne!(
        hashes[0].split('$').nth(4),
        hashes[1].split('$').nth(4),
        "the same password, different salts"
    );
}

#[tokio::test]
async fn a_hash_made_with_weaker_parameters_is_upgraded_at_the_next_sign_in() {
    // AUTH-02
    let app = spawn_app().spawn().await;
    let person = staff_member(&app, "old@clinic.example").await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4_096, 1, 1, None).expect("params"),
    )
    .hash_password(
        person.password.as_bytes(),
        &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng),
    )
    .expect("hash")
    .to_string();
    let mut su = app.database().superuser().await;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(person.id)
        .bind(&weak)
        .execute(&mut su)
        .await
        .expect("weaken");

    let wrong = app.browser().sign_in(&person.email, "not the password at all").await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(stored_hash(&app, &person).await, weak, "a failed sign-in changes nothing");

    app.browser().sign_in_fully(&person, &app.clock).await;
    let upgraded = stored_hash(&app, &person).await;
    assert!(upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{upgraded}");
    app.browser().sign_in_fully(&person, &app.clock).await; // the new hash verifies
}

#[tokio::test]
async fn the_password_policy_follows_nist_without_composition_rules_or_truncation() {
    // AUTH-03, over the real change-password form: a patient (8) and a staff member (12).
    let app = spawn_app().spawn().await;
    let patient = app.person("patient@home.example", "my first password here").await;
    let staff = staff_member(&app, "policy@clinic.example").await;
    let (patient_browser, staff_browser) = (app.browser(), app.browser());
    patient_browser.sign_in_fully(&patient, &app.clock).await;
    staff_browser.sign_in_fully(&staff, &app.clock).await;

    let change = |browser: &Browser, password: String| {
        let browser = browser.clone();
        async move {
            let res = browser.post_form("/account/password", &[("password", &password)]).await;
            (res.status().as_u16(), res.text().await.expect("body"))
        }
    };
    let (status, page) = change(&patient_browser, "seven77".into()).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"new-password-error\""), "the message is next to the field");
    assert!(page.contains("at least 8 characters"), "{page}");
    let (status, page) = change(&staff_browser, "eleven char".into()).await;
    assert_eq!(status, 422, "staff need 12");
    assert!(page.contains("at least 12 characters"));
    let (status, page) = change(&patient_browser, "Password123!".into()).await;
    assert_eq!(status, 422, "a common password, whatever its decoration");
    assert!(page.contains("common"), "{page}");
    assert_eq!(change(&patient_browser, "plain lowercase words".into()).await.0, 200, "no composition rules");
    assert_eq!(change(&staff_browser, "x".repeat(257)).await.0, 422, "the documented ceiling");

    for password in [
        "a".repeat(20) + &"b9".repeat(22),                      // 64
        "long sentences are fine ".repeat(8) + "and then some", // 200+
    ] {
        app.clock.advance(TimeDelta::seconds(1));
        let (status, page) = change(&staff_browser, password.clone()).await;
        assert_eq!(status, 200, "{} characters: {page}", password.chars().count());
        // No truncation: every character counts.
        let shorter: String = password.chars().take(password.chars().count() - 1).collect();
        assert_eq!(app.browser().sign_in(&staff.email, &shorter).await.status(), 422);
        let again = Person { password, ..staff.clone() };
        app.browser().sign_in_fully(&again, &app.clock).await;
    }

    // Unicode: composed and decomposed forms of one password are the same password.
    let composed = "Crème brûlée für Ærøskøbing";
    let (status, _) = change(&patient_browser, composed.into()).await;
    assert_eq!(status, 200);
    let decomposed: String = unicode_decomposed(composed);
    assert_ne!(decomposed, composed);
    let res = app.browser().sign_in(&patient.email, &decomposed).await;
    assert_eq!(res.status(), 303, "typed on another keyboard, still the same password");
}

/// The NFD form of `text`, built without a normalization crate: the accented letters
/// used above as base letter + combining mark.
fn unicode_decomposed(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'è' => "e\u{300}".to_owned(),
            'û' => "u\u{302}".to_owned(),
            'é' => "e\u{301}".to_owned(),
            'ü' => "u\u{308}".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn an_hour_of_guessing_from_rotating_addresses_gets_few_guesses_evaluated_and_no_permanent_lock() {
    // AUTH-04: 150 wrong passwords in an hour, each from a new address.
    let app = behind_a_proxy().await;
    let victim = staff_member(&app, "target@clinic.example").await;
    let mut refused_while_locked_with_the_right_password = false;
    for n in 0..150 {
        let ip = format!("10.0.{}.{}", n / 200, n % 200 + 1);
        assert_eq!(attempt_from(&app, &ip, &victim.email, &format!("guess number {n}")).await.status(), 422);
        if n == 20 {
            // The real password during the lock is refused like any other.
            let res = attempt_from(&app, "192.0.2.200", &victim.email, &victim.password).await;
            refused_while_locked_with_the_right_password = res.status() == 422;
        }
        app.clock.advance(TimeDelta::seconds(24));
    }
    assert!(refused_while_locked_with_the_right_password);
    let (evaluated, locked) = failures_by_reason(&app, &victim).await;
    assert!(evaluated <= 100, "{evaluated} guesses evaluated in an hour");
    assert!(locked >= 100, "the rest were refused unseen ({locked})");
    note(&format!("AUTH-04: 150 guesses in an hour, {evaluated} evaluated"));

    // No permanent lock: after the longest back-off, the right password works.
    app.clock.advance(MAX_LOCK);
    let res = attempt_from(&app, "192.0.2.201", &victim.email, &victim.password).await;
    assert_eq!(res.status(), 303);
}

fn note(message: &str) {
    crate::helpers::note(message);
}

#[tokio::test]
async fn an_attacker_cannot_keep_a_clinician_out_for_more_than_a_few_minutes() {
    // AUTH-05: however many failures, the lock is at most MAX_LOCK, and failures during a
    // lock do not lengthen it.
    let app = behind_a_proxy().await;
    let victim = staff_member(&app, "clinician@clinic.example").await;
    for n in 0..60 {
        attempt_from(&app, &format!("10.1.0.{}", n + 1), &victim.email, "wrong wrong wrong").await;
    }
    let mut su = app.database().superuser().await;
    let (failures, until): (i32, chrono::DateTime<chrono::Utc>) = sqlx::query_as(
        "SELECT failures, locked_until FROM sign_in_throttle WHERE user_id = $1 AND factor = 'password'",
    )
    .bind(victim.id)
    .fetch_one(&mut su)
    .await
    .expect("throttle");
    assert!(failures <= 6, "failures during a lock are not counted ({failures})");
    assert!(until - app.clock.now() <= MAX_LOCK);
    app.clock.advance(MAX_LOCK);
    let browser = app.browser();
    let landed = browser.sign_in_fully(&victim, &app.clock).await;
    assert_eq!(landed, "/home", "the victim is back in after the back-off");
}

/// The page with everything that differs per request or per session blanked out.
fn comparable(html: &str) -> String {
    let mut out = html.to_owned();
    for marker in ["name=\"csrf_token\" value=\"", "nonce=\"", "\"X-CSRF-Token\": \""] {
        let mut from = 0;
        while let Some(at) = out[from..].find(marker) {
            let start = from + at + marker.len();
            let end = start + out[start..].find('"').expect("closing quote");
            out.replace_range(start..end, "");
            from = start;
        }
    }
    out
}

fn trimmed_mean(samples: &mut [Duration]) -> f64 {
    samples.sort();
    let cut = samples.len() / 10;
    let kept = &samples[cut..samples.len() - cut];
    kept.iter().map(Duration::as_secs_f64).sum::<f64>() / kept.len() as f64
}

#[tokio::test]
async fn sign_in_and_reset_answer_the_same_for_real_and_unknown_addresses() {
    // AUTH-06: same status, same body, and timings within 10% (interleaved samples, so
    // load from other tests falls on both alike; trimmed means).
    let app = behind_a_proxy().await;
    let real = staff_member(&app, "real@clinic.example").await;
    let unknown = "nobody-here@clinic.example";
    let mut known_times = Vec::new();
    let mut unknown_times = Vec::new();
    let mut bodies = [String::new(), String::new()];
    for n in 0..120 {
        // Past any lock, so the real account's password is really checked each time.
        app.clock.advance(MAX_LOCK + TimeDelta::seconds(1));
        for (i, email) in [real.email.as_str(), unknown].into_iter().enumerate() {
            let ip = format!("10.2.{}.{}", n % 250 + 1, i + 1);
            let started = Instant::now();
            let res = attempt_from(&app, &ip, email, "an incorrect password").await;
            let elapsed = started.elapsed();
            assert_eq!(res.status(), 422);
            let body = comparable(&res.text().await.expect("body")).replace(email, "EMAIL");
            if n == 0 {
                bodies[i] = body;
            } else {
                assert_eq!(body, bodies[i], "the page is stable");
            }
            if i == 0 { known_times.push(elapsed) } else { unknown_times.push(elapsed) }
        }
    }
    assert_eq!(bodies[0], bodies[1], "one page for both");
    let (known, unknown_mean) = (trimmed_mean(&mut known_times), trimmed_mean(&mut unknown_times));
    let difference = (known - unknown_mean).abs() / known.max(unknown_mean);
    note(&format!(
        "AUTH-06 sign-in: real {:.1} ms, unknown {:.1} ms, difference {:.1}%",
        known * 1e3,
        unknown_mean * 1e3,
        difference * 100.0
    ));
    assert!(difference < 0.10, "timing difference {:.1}%", difference * 100.0);

    // Reset: the same page for both, before any look-up.
    let mut pages = Vec::new();
    for (i, email) in [real.email.as_str(), unknown].into_iter().enumerate() {
        let browser = app.browser();
        let page = browser.client.get(browser.url("/password/forgot")).send().await.expect("page");
        let token = csrf_from(&page.text().await.expect("body")).expect("token");
        let res = browser
            .client
            .post(browser.url("/password/forgot"))
            .header("X-Forwarded-For", format!("10.3.0.{}", i + 1))
            .form(&[("email", email), ("csrf_token", &token)])
            .send()
            .await
            .expect("forgot");
        assert_eq!(res.status(), 200);
        pages.push(comparable(&res.text().await.expect("body")).replace(email, "EMAIL"));
    }
    assert_eq!(pages[0], pages[1]);
}

#[tokio::test]
async fn a_reset_link_works_once_within_the_hour_for_its_own_account_and_never_skips_mfa() {
    // AUTH-07
    let app = spawn_app().spawn().await;
    let owner = staff_member(&app, "owner@clinic.example").await;
    let other = staff_member(&app, "other@clinic.example").await;
    let elsewhere = app.browser();
    elsewhere.sign_in_fully(&owner, &app.clock).await;

    let request_link = |email: String| {
        let browser = app.browser();
        async move {
            let res = browser.post_form("/password/forgot", &[("email", &email)]).await;
            assert_eq!(res.status(), 200);
        }
    };
    request_link(owner.email.clone()).await;
    let link = app.eventual_link_to(&owner.email).await;
    assert!(link.starts_with("/password/reset/"), "{link}");

    // Expired after an hour.
    app.clock.advance(TimeDelta::minutes(61));
    let late = app.browser();
    assert_eq!(late.get(&link).await.status(), 303);
    let res = late.post_form("/password/reset", &[("password", "a brand new passphrase")]).await;
    assert_eq!(res.status(), 410, "an hour-old link is dead");

    // A fresh one; a second request replaces the first.
    app.clear_mailbox().await;
    request_link(owner.email.clone()).await;
    let first = app.eventual_link_to(&owner.email).await;
    app.clear_mailbox().await;
    request_link(owner.email.clone()).await;
    let link = app.eventual_link_to(&owner.email).await;
    assert_ne!(first, link);
    let stale = app.browser();
    stale.get(&first).await;
    assert_eq!(
        stale.post_form("/password/reset", &[("password", "a brand new passphrase")]).await.status(),
        410
    );

    // The link resets the account it was made for, whoever opens it.
    let browser = app.browser();
    browser.sign_in_fully(&other, &app.clock).await;
    browser.get(&link).await;
    let form = browser.get("/password/reset").await.text().await.expect("form");
    assert!(form.contains(&owner.email), "the form names the account being reset");
    let res = browser.post_form("/password/reset", &[("password", "a brand new passphrase")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sign-in?changed=password");
    let new_owner = Person { password: "a brand new passphrase".into(), ..owner.clone() };
    let other_still = app.browser().sign_in(&other.email, &other.password).await;
    assert_eq!(other_still.status(), 303, "the other account is untouched");

    // Used once.
    let again = app.browser();
    again.get(&link).await;
    assert_eq!(
        again.post_form("/password/reset", &[("password", "yet another passphrase")]).await.status(),
        410
    );

    // Every session of the account ended; the second factor is still asked for.
    assert_eq!(elsewhere.get("/account").await.status(), 303);
    let fresh = app.browser();
    let res = fresh.sign_in(&new_owner.email, &new_owner.password).await;
    assert_eq!(res.headers()["location"], "/mfa", "a reset never skips the second factor");
    assert_eq!(fresh.get("/workspace").await.status(), 303);
    app.clock.advance(TimeDelta::seconds(30));
    let code = totp_code(new_owner.totp.as_ref().expect("totp"), &app.clock);
    assert_eq!(fresh.post_form("/mfa/totp", &[("code", &code)]).await.status(), 303);
}

#[tokio::test]
async fn a_storm_of_sign_ins_hashes_on_all_cores_but_one_and_the_server_stays_up() {
    // AUTH-08: 200 at once, each from its own address.
    let app = behind_a_proxy().await;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut storm = tokio::task::JoinSet::new();
    for n in 0..200 {
        let browser = app.browser();
        storm.spawn(async move {
            let ip = format!("10.4.{}.{}", n / 100, n % 100 + 1);
            let page =
                browser.client.get(browser.url("/sign-in")).header("X-Forwarded-For", &ip).send().await;
            let token = csrf_from(&page.expect("page").text().await.expect("body")).expect("token");
            let res = browser
                .client
                .post(browser.url("/sign-in"))
                .header("X-Forwarded-For", &ip)
                .form(&[
                    ("email", format!("storm{n}@nowhere.example")),
                    ("password", "whatever".into()),
                    ("csrf_token", token),
                ])
                .send()
                .await
                .expect("request");
            (res.status().as_u16(), res.headers().get("retry-after").is_some())
        });
    }
    // While the storm runs, the server answers other requests.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let health = app.get("/health").await;
    let health_took = started.elapsed();
    assert_eq!(health.status(), 200);
    let mut by_status = std::collections::BTreeMap::new();
    while let Some(result) = storm.join_next().await {
        let (status, retry_after) = result.expect("task");
        assert!(status == 422 || (status == 503 && retry_after), "status {status}");
        *by_status.entry(status).or_insert(0) += 1;
    }
    let peak = app.state.auth.passwords.peak_concurrency();
    note(&format!(
        "AUTH-08: {by_status:?}, peak hashing {peak} on {cores} cores, /health in {health_took:?}"
    ));
    // One core is kept for serving pages (one hashing thread on one or two cores).
    let allowed = cores.saturating_sub(1).max(1);
    assert!(peak <= allowed && peak >= 1, "peak {peak} on {cores} cores (at most {allowed})");
}

#[tokio::test]
async fn bursts_from_one_address_get_429_with_retry_after_on_every_attack_surface() {
    // RL-01: sign-in, second factor, reset request and reset.
    let app = behind_a_proxy().await;
    let person = staff_member(&app, "burst@clinic.example").await;
    // A browser half-way through sign-in, for the second-factor endpoint.
    let halfway = app.browser();
    assert_eq!(halfway.sign_in(&person.email, &person.password).await.headers()["location"], "/mfa");
    let token = halfway.csrf_token().await;
    for (path, fields) in [
        ("/sign-in", vec![("email", "burst@clinic.example"), ("password", "wrong wrong wrong")]),
        ("/mfa/totp", vec![("code", "000000")]),
        ("/password/forgot", vec![("email", "burst@clinic.example")]),
        ("/password/reset", vec![("password", "whatever it may be")]),
    ] {
        // The reset request and the reset share a bucket: start each surface full.
        app.clock.advance(TimeDelta::seconds(60));
        let mut statuses = Vec::new();
        for _ in 0..50 {
            let mut form = fields.clone();
            form.push(("csrf_token", &token));
            let res = halfway
                .client
                .post(halfway.url(path))
                .header("X-Forwarded-For", "198.51.100.7")
                .form(&form)
                .send()
                .await
                .expect("request");
            if res.status() == 429 {
                let wait: u64 =
                    res.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
                assert!((1..=10).contains(&wait), "Retry-After {wait}");
            }
            statuses.push(res.status().as_u16());
        }
        let limited = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!(limited, 40, "{path}: ten attempts, then 429: {statuses:?}");
        // Another address is not affected.
        let mut form = fields.clone();
        form.push(("csrf_token", &token));
        let other = halfway
            .client
            .post(halfway.url(path))
            .header("X-Forwarded-For", "198.51.100.8")
            .form(&form)
            .send()
            .await
            .expect("request");
        assert_ne!(other.status(), 429, "{path}: per address");
    }
    // The bucket refills at one attempt per five seconds.
    for _ in 0..10 {
        attempt_from(&app, "198.51.100.9", &person.email, "wrong wrong wrong").await;
    }
    let res = attempt_from(&app, "198.51.100.9", &person.email, "wrong wrong wrong").await;
    assert_eq!(res.status(), 429);
    app.clock.advance(TimeDelta::seconds(5));
    let res = attempt_from(&app, "198.51.100.9", &person.email, "wrong wrong wrong").await;
    assert_eq!(res.status(), 422);
    let res = attempt_from(&app, "198.51.100.9", &person.email, "wrong wrong wrong").await;
    assert_eq!(res.status(), 429, "one more attempt per five seconds");
}

#[tokio::test]
async fn after_sign_in_only_a_path_on_this_site_is_returned_to() {
    // WEB-09
    let app = spawn_app().spawn().await;
    let person = staff_member(&app, "next@clinic.example").await;
    for (next, expected) in [
        ("https://evil.example/", "/home"),
        ("//evil.example/", "/home"),
        ("/\\evil.example", "/home"),
        ("javascript:alert(1)", "/home"),
        ("/account?tab=sessions", "/account?tab=sessions"),
    ] {
        let browser = app.browser();
        let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        browser.get(&format!("/sign-in?next={encoded}")).await;
        let landed = browser.sign_in_fully(&person, &app.clock).await;
        assert_eq!(landed, expected, "next={next}");
        // Signing out goes to the sign-in page whatever is asked.
        let token = browser.csrf_token().await;
        let res = browser
            .client
            .post(browser.url(&format!("/sign-out?next={encoded}")))
            .form(&[("csrf_token", token.as_str()), ("next", next)])
            .send()
            .await
            .expect("sign out");
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().expect("ascii");
        assert!(location.starts_with('/') && !location.starts_with("//"), "{location}");
    }
}

/// A person whose only context is a proxy grant that has expired: the grant is not offered
/// (entering it would fail after the session was rotated), so sign-in completes with an
/// indexed, audited session and the context picker — never a signed-in session that
/// "sign out everywhere" and disabling the account cannot reach.
#[tokio::test]
async fn a_sign_in_whose_only_context_has_expired_leaves_an_indexed_session_or_none() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = crate::fixtures::two_tenants(&owner, 1).await;
    let parent = app.person("former.guardian@home.example", "a long enough phrase here").await;
    let mut su = app.database().superuser().await;
    for (starts, expires) in [("now() - interval '2 years'", "now() - interval '1 day'")] {
        sqlx::query(&format!(
            "INSERT INTO patient_proxy_assignments (organization_id, patient_id, proxy_user_id, relationship, status,
                                                    starts_at, expires_at)
             VALUES ($1, $2, $3, 'parent', 'active', {starts}, {expires})"
        ))
        .bind(tenants.a.org)
        .bind(tenants.a.patients[0])
        .bind(parent.id)
        .execute(&mut su)
        .await
        .expect("expired grant");
    }
    app.clock.set(chrono::Utc::now());
    let browser = app.browser();
    let res = browser.sign_in(&parent.email, &parent.password).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap_or_default());
    assert_eq!(res.headers()["location"], "/contexts");
    let page = browser.get("/contexts").await.text().await.expect("page");
    assert!(!page.contains("ALPHA-CANARY"), "the expired grant is not offered: {page}");
    let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM user_sessions WHERE user_id = $1")
        .bind(parent.id)
        .fetch_one(&mut su)
        .await
        .expect("sessions");
    assert_eq!(indexed, 1, "the session that exists is indexed");
    let logins: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = 'login' AND actor_user_id = $1")
            .bind(parent.id)
            .fetch_one(&mut su)
            .await
            .expect("events");
    assert_eq!(logins, 1, "and audited");
    // Disabling the account ends it.
    sqlx::query("UPDATE users SET disabled_at = now() WHERE id = $1")
        .bind(parent.id)
        .execute(&mut su)
        .await
        .expect("disable");
    let res = browser.get("/contexts").await;
    assert_eq!(res.status(), 303);
}
