//! Second factors (MFA-01..10): staff enrolment, step skipping, TOTP replay, skew and
//! guessing, the secret at rest, recovery codes, and passkeys with a software
//! authenticator (registration, second factor, passwordless, replay, ceremony state,
//! user verification, origin, counters, other people's credentials).

use chrono::TimeDelta;
use lockdev::auth::throttle::{self, Factor};
use lockdev::clock::Clock as _;
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::{AuthenticatorBackend, WebauthnAuthenticator};
use webauthn_rs::prelude::{CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse};

use crate::fixtures::{CANARY_A, phi_routes, two_tenants};
use crate::helpers::{Browser, Person, TestApp, base32_decode, spawn_app, totp_code};

const ORIGIN: &str = "http://localhost";

async fn staff_member(app: &TestApp, email: &str) -> Person {
    let org = app.organization("MFA Clinic").await;
    let person = app.with_totp(app.person(email, "quiet lake morning 42").await).await;
    app.member(org, &person, "clinical_staff").await;
    person
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").map(|l| l.to_str().expect("ascii").to_owned()).unwrap_or_default()
}

/// `mfa_challenge_failed` events for `person` with `reason`.
async fn challenge_failures(app: &TestApp, person: &Person, reason: &str) -> i64 {
    let mut su = app.database().superuser().await;
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_events
          WHERE action = 'mfa_challenge_failed' AND resource_id = $1 AND details->>'reason' = $2",
    )
    .bind(person.id)
    .bind(reason)
    .fetch_one(&mut su)
    .await
    .expect("audit")
}

#[tokio::test]
async fn staff_without_a_second_factor_reach_only_enrolment() {
    // MFA-01: every tenant or PHI route, for a staff member who has only a password.
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let nurse = app.person("unenrolled@clinic.example", "quiet lake morning 42").await;
    app.member(tenants.a.org, &nurse, "clinical_staff").await;
    app.member(tenants.a.org, &nurse, "org_admin").await;
    let browser = app.browser();
    let res = browser.sign_in(&nurse.email, &nurse.password).await;
    assert_eq!(location(&res), "/mfa/enrol");
    let token = browser.csrf_token().await;
    let guarded: Vec<_> = app
        .registry
        .iter()
        .filter(|r| {
            matches!(
                r.access,
                lockdev::web::Access::Staff(_)
                    | lockdev::web::Access::Portal(_)
                    | lockdev::web::Access::SignedIn
            )
        })
        .cloned()
        .collect();
    assert!(guarded.len() > 15);
    for route in guarded {
        let path = route
            .path
            .replace("{patient_id}", &tenants.a.patients[0].to_string())
            .replace("{membership_id}", &tenants.a.patients[0].to_string())
            .replace("{assignment_id}", &tenants.a.patients[0].to_string())
            .replace("{passkey_id}", &tenants.a.patients[0].to_string());
        let mut request = browser.client.request(route.method.clone(), browser.url(&path));
        if route.method != Method::GET {
            request = request.header("X-CSRF-Token", &token);
        }
        let res = request.send().await.expect("request");
        assert_eq!(res.status(), 303, "{} {}", route.method, route.path);
        assert_eq!(location(&res), "/mfa/enrol", "{} {}", route.method, route.path);
        assert!(!res.text().await.expect("body").contains(CANARY_A));
    }
    // The enrolment page itself is open to them, and says why.
    let page = browser.get("/mfa/enrol").await.text().await.expect("page");
    assert!(page.contains("needs a second factor"), "{page}");
}

#[tokio::test]
async fn patients_are_offered_a_second_factor_and_need_one_where_the_clinic_says_so() {
    let app = spawn_app().spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let patient = app.person("patient@home.example", "a long enough secret phrase").await;
    app.link_patient(tenants.a.org, tenants.a.patients[0], &patient).await;
    let browser = app.browser();
    assert_eq!(browser.sign_in_fully(&patient, &app.clock).await, "/home", "offered, not required");
    assert_eq!(browser.get("/portal").await.status(), 200);

    let mut su = app.database().superuser().await;
    sqlx::query(
        "UPDATE organizations SET settings = settings || '{\"require_patient_mfa\": true}' WHERE id = $1",
    )
    .bind(tenants.a.org)
    .execute(&mut su)
    .await
    .expect("require");
    let browser = app.browser();
    browser.sign_in_fully(&patient, &app.clock).await;
    let res = browser.get("/portal").await;
    assert_eq!(location(&res), "/mfa/enrol", "this clinic requires a second factor of its patients");
}

#[tokio::test]
async fn the_password_step_alone_opens_nothing_and_the_session_id_changes_after_the_second_factor() {
    // MFA-02
    let app = spawn_app().routes(phi_routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    let tenants = two_tenants(&owner, 1).await;
    let nurse = app.with_totp(app.person("halfway@clinic.example", "quiet lake morning 42").await).await;
    app.member(tenants.a.org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    let res = browser.sign_in(&nurse.email, &nurse.password).await;
    assert_eq!(location(&res), "/mfa");
    let halfway = browser.session_cookie();
    for path in [
        format!("/test/patients/{}", tenants.a.patients[0]),
        "/workspace".into(),
        "/account".into(),
        "/contexts".into(),
        "/home".into(),
    ] {
        let res = browser.get(&path).await;
        assert_eq!((res.status().as_u16(), location(&res)), (303, "/mfa".to_owned()), "{path}");
    }
    // Skipping ahead to what comes after the second factor.
    for (path, fields) in [
        ("/contexts/select", vec![("context", "anything")]),
        ("/consent", vec![]),
        ("/account/sessions/end-others", vec![]),
        ("/account/recovery-codes", vec![]),
    ] {
        let res = browser.post_form(path, &fields).await;
        assert_eq!((res.status().as_u16(), location(&res)), (303, "/mfa".to_owned()), "{path}");
    }
    // An authenticator-app set-up is not a way around the challenge for someone who has one.
    let res = browser.post_form("/account/totp/start", &[]).await;
    assert_eq!(location(&res), "/mfa");

    app.clock.advance(TimeDelta::seconds(30));
    let code = totp_code(nurse.totp.as_ref().expect("totp"), &app.clock);
    let res = browser.post_form("/mfa/totp", &[("code", &code)]).await;
    assert_eq!(res.status(), 303);
    assert_ne!(browser.session_cookie(), halfway, "a new session id once both factors are in");
    let stale = app.browser();
    stale.set_session_cookie(&halfway);
    assert_eq!(stale.get("/account").await.status(), 303, "the half-way id is worthless");
}

#[tokio::test]
async fn a_code_is_accepted_once_even_when_sent_twice_at_the_same_moment() {
    // MFA-03: sequential and concurrent replays; refused, audited, and the person told.
    let app = spawn_app().spawn().await;
    let nurse = staff_member(&app, "replay@clinic.example").await;
    let secret = nurse.totp.clone().expect("totp");
    let first = app.browser();
    first.sign_in(&nurse.email, &nurse.password).await;
    app.clock.advance(TimeDelta::seconds(30));
    let code = totp_code(&secret, &app.clock);
    assert_eq!(first.post_form("/mfa/totp", &[("code", &code)]).await.status(), 303);
    let second = app.browser();
    second.sign_in(&nurse.email, &nurse.password).await;
    let res = second.post_form("/mfa/totp", &[("code", &code)]).await;
    assert_eq!(res.status(), 422, "the same code again");
    assert!(res.text().await.expect("body").contains("already used"));
    assert_eq!(challenge_failures(&app, &nurse, "replayed").await, 1);
    let mail = app.mailbox().await;
    assert!(
        mail.iter().any(|(to, _, text)| to == &nurse.email && text.contains("used twice")),
        "the person is told: {mail:?}"
    );

    // Two sessions send the next code at once: exactly one gets in.
    app.clock.advance(TimeDelta::seconds(30));
    let code = totp_code(&secret, &app.clock);
    let racers: Vec<Browser> = (0..2).map(|_| app.browser()).collect();
    let mut tokens = Vec::new();
    for racer in &racers {
        racer.sign_in(&nurse.email, &nurse.password).await;
        tokens.push(racer.csrf_token().await);
    }
    let send = |i: usize| {
        let racer = racers[i].clone();
        let form = [("code", code.clone()), ("csrf_token", tokens[i].clone())];
        async move { racer.client.post(racer.url("/mfa/totp")).form(&form).send().await.expect("post").status() }
    };
    let (a, b) = tokio::join!(send(0), send(1));
    let mut statuses = [a.as_u16(), b.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 422], "exactly one of two concurrent uses succeeds");
}

#[tokio::test]
async fn codes_from_one_step_either_side_are_accepted_and_no_further() {
    // MFA-04, through the real challenge with the injected clock.
    let app = spawn_app().spawn().await;
    for offset in -2i64..=2 {
        let nurse = staff_member(&app, &format!("skew{}@clinic.example", offset + 2)).await;
        let browser = app.browser();
        browser.sign_in(&nurse.email, &nurse.password).await;
        let now_step = lockdev::auth::totp::step_at(app.clock.now());
        let code = lockdev::auth::totp::code_for_step(nurse.totp.as_ref().expect("totp"), now_step + offset);
        let status = browser.post_form("/mfa/totp", &[("code", &code)]).await.status();
        let expected = if offset.abs() <= 1 { 303 } else { 422 };
        assert_eq!(status, expected, "a code for step t{offset:+}");
    }
}

#[tokio::test]
async fn guessing_codes_earns_a_lock_after_five_and_a_day_allows_only_a_few_hundred_guesses() {
    // MFA-05
    let app = spawn_app().spawn().await;
    let nurse = staff_member(&app, "guess@clinic.example").await;
    let secret = nurse.totp.clone().expect("totp");
    let browser = app.browser();
    browser.sign_in(&nurse.email, &nurse.password).await;
    let right = totp_code(&secret, &app.clock);
    let wrong = if right == "123456" { "654321" } else { "123456" };
    for n in 0..5 {
        let res = browser.post_form("/mfa/totp", &[("code", wrong)]).await;
        assert_eq!(res.status(), 422, "guess {n}");
    }
    // Locked: even the right code is refused unseen.
    let res = browser.post_form("/mfa/totp", &[("code", &right)]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("body").contains("Too many wrong codes"));
    assert_eq!(challenge_failures(&app, &nurse, "locked").await, 1);
    app.clock.advance(TimeDelta::seconds(61));
    let res = browser.post_form("/mfa/totp", &[("code", &totp_code(&secret, &app.clock))]).await;
    assert_eq!(res.status(), 303, "after the lock, the right code works");

    // The budget: the most guesses the schedule allows in a day, against a million codes.
    let (mut guesses, mut elapsed, mut failures) = (0u32, TimeDelta::zero(), 0);
    while elapsed < TimeDelta::days(1) {
        failures += 1;
        guesses += 1;
        elapsed += throttle::lock_for(Factor::SecondFactor, failures).unwrap_or(TimeDelta::zero());
    }
    assert!(guesses <= 200, "{guesses} guesses a day");
    crate::helpers::note(&format!(
        "MFA-05: at most {guesses} guesses a day, {:.3}% of the code space (before counting the one-hour windows of the soft lock)",
        f64::from(guesses) / 1e4
    ));
}

#[tokio::test]
async fn a_new_authenticator_secret_is_long_encrypted_shown_once_and_counts_only_when_confirmed() {
    // MFA-06
    let app = spawn_app().spawn().await;
    let org = app.organization("Enrol Clinic").await;
    let nurse = app.person("enrol@clinic.example", "quiet lake morning 42").await;
    app.member(org, &nurse, "clinical_staff").await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(&nurse.email, &nurse.password).await), "/mfa/enrol");
    let intro = browser.get("/account/totp").await.text().await.expect("page");
    assert!(!intro.contains("data-totp-secret"), "no secret until one is asked for");
    assert_eq!(browser.post_form("/account/totp/start", &[]).await.status(), 303);
    let page = browser.get("/account/totp").await.text().await.expect("page");
    assert!(page.contains("<svg"), "the QR code is inline SVG");
    let key = page
        .split("data-totp-secret>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("key")
        .replace(' ', "");
    assert!(key.len() * 5 >= 160, "a secret of at least 160 bits ({} base32 characters)", key.len());
    let secret = base32_decode(&key);

    // At rest: only ciphertext, and nothing that counts yet.
    let mut su = app.database().superuser().await;
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT secret_ciphertext FROM totp_enrolments WHERE user_id = $1")
            .bind(nurse.id)
            .fetch_one(&mut su)
            .await
            .expect("pending");
    assert!(
        !stored.windows(secret.len()).any(|w| w == secret.as_slice()),
        "the secret is not stored in clear"
    );
    let working: i64 = sqlx::query_scalar("SELECT count(*) FROM totp_credentials WHERE user_id = $1")
        .bind(nurse.id)
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(working, 0, "an unconfirmed secret is not a factor");
    assert_eq!(browser.get("/workspace").await.status(), 303, "still enrolling");

    let wrong = browser.post_form("/account/totp", &[("code", "000000")]).await;
    assert_eq!(wrong.status(), 422);
    let wrong_page = wrong.text().await.expect("page");
    assert!(wrong_page.contains("did not match") && wrong_page.contains("id=\"code-error\""));
    let code = lockdev::auth::totp::code_for_step(&secret, lockdev::auth::totp::step_at(app.clock.now()));
    let done = browser.post_form("/account/totp", &[("code", &code)]).await;
    assert_eq!(done.status(), 200, "the first factor shows recovery codes");
    assert!(done.text().await.expect("page").contains("Your recovery codes"));

    // Shown once: the set-up page no longer shows it.
    let after = browser.get("/account/totp").await;
    let after = if after.status() == 303 { String::new() } else { after.text().await.expect("page") };
    assert!(!after.contains(&key[..16]), "the secret is not shown again");
    // And now it counts: the next sign-in asks for a code.
    assert_eq!(location(&app.browser().sign_in(&nurse.email, &nurse.password).await), "/mfa");
}

fn codes_in(page: &str) -> Vec<String> {
    page.split("<li><code>").skip(1).filter_map(|s| s.split('<').next()).map(str::to_owned).collect()
}

#[tokio::test]
async fn recovery_codes_work_once_die_when_regenerated_are_hashed_and_count_as_guesses() {
    // MFA-07
    let app = spawn_app().spawn().await;
    let nurse = staff_member(&app, "recovery@clinic.example").await;
    let browser = app.browser();
    browser.sign_in_fully(&nurse, &app.clock).await;
    let codes =
        codes_in(&browser.post_form("/account/recovery-codes", &[]).await.text().await.expect("page"));
    assert_eq!(codes.len(), 10);

    let mut su = app.database().superuser().await;
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT encode(code_hash, 'hex') FROM recovery_codes WHERE user_id = $1")
            .bind(nurse.id)
            .fetch_all(&mut su)
            .await
            .expect("rows");
    assert_eq!(stored.len(), 10);
    assert!(stored.iter().all(|h| h.len() == 64 && codes.iter().all(|c| !h.contains(&c.replace('-', "")))));

    let use_code = |code: String| {
        let browser = app.browser();
        let (email, password) = (nurse.email.clone(), nurse.password.clone());
        async move {
            browser.sign_in(&email, &password).await;
            browser.post_form("/mfa/recovery", &[("code", &code)]).await.status().as_u16()
        }
    };
    assert_eq!(use_code(codes[0].clone()).await, 303);
    assert_eq!(use_code(codes[0].clone()).await, 422, "used once");
    assert_eq!(use_code(codes[1].to_uppercase().replace('-', " ")).await, 303, "typed loosely, still fine");

    app.clock.advance(TimeDelta::seconds(1));
    let fresh =
        codes_in(&browser.post_form("/account/recovery-codes", &[]).await.text().await.expect("page"));
    assert_eq!(fresh.len(), 10);
    assert_eq!(use_code(codes[2].clone()).await, 422, "the old set died with the new one");

    // Guessing is counted with the other second factors: locked after five.
    for _ in 0..4 {
        assert_eq!(use_code("aaaa-bbbb-cccc-dddd".into()).await, 422);
    }
    assert_eq!(use_code(fresh[0].clone()).await, 422, "locked: even a good code waits");
    app.clock.advance(TimeDelta::minutes(2));
    assert_eq!(use_code(fresh[0].clone()).await, 303);
}

// ---- passkeys -------------------------------------------------------------------

/// A software passkey (it claims user verification) and what the tests need to know
/// about the credential it made.
struct Key {
    device: SoftPasskey,
    credential_id: Option<String>,
    user_handle: Option<String>,
}

impl Key {
    fn new() -> Self {
        Self { device: SoftPasskey::new(true), credential_id: None, user_handle: None }
    }

    /// Registers with the account of the signed-in (or enrolling) `browser`.
    async fn register(&mut self, browser: &Browser, name: &str) -> reqwest::Response {
        let options: Value =
            browser.post_json("/account/passkeys/start", &json!({})).await.json().await.expect("options");
        self.user_handle = options["publicKey"]["user"]["id"].as_str().map(str::to_owned);
        // Asked for as a discoverable credential, so a passwordless sign-in finds it.
        assert_eq!(options["publicKey"]["authenticatorSelection"]["residentKey"], "preferred", "{options}");
        let options: CreationChallengeResponse = serde_json::from_value(options).expect("creation options");
        let credential =
            self.device.do_registration(Url::parse(ORIGIN).expect("url"), options).expect("register");
        let credential = serde_json::to_value(&credential).expect("json");
        self.credential_id = credential["id"].as_str().map(str::to_owned);
        browser
            .post_json("/account/passkeys/finish", &json!({ "name": name, "credential": credential }))
            .await
    }

    /// Signs an assertion for `options` as a browser at `origin` would send it. For a
    /// passwordless sign-in (no allow-list) the authenticator picks its own credential
    /// and returns the user handle, as a discoverable credential does.
    fn assert(&mut self, options: Value, origin: &str) -> Value {
        let mut options = options;
        if options["publicKey"]["allowCredentials"].as_array().is_none_or(Vec::is_empty) {
            options["publicKey"]["allowCredentials"] =
                json!([{ "type": "public-key", "id": self.credential_id.clone().expect("registered") }]);
        }
        let options: RequestChallengeResponse = serde_json::from_value(options).expect("request options");
        let credential: PublicKeyCredential = if origin == ORIGIN {
            self.device.do_authentication(Url::parse(origin).expect("url"), options).expect("assertion")
        } else {
            // Straight to the authenticator, skipping the browser's own origin check: what
            // a phishing site relaying the challenge would produce.
            AuthenticatorBackend::perform_auth(
                &mut self.device,
                Url::parse(origin).expect("url"),
                options.public_key,
                60_000,
            )
            .expect("assertion")
        };
        let mut credential = serde_json::to_value(&credential).expect("json");
        credential["response"]["userHandle"] = json!(self.user_handle.clone().expect("registered"));
        credential
    }
}

/// Starts the second-factor passkey check of a browser half-way through sign-in.
async fn second_factor_options(browser: &Browser) -> Value {
    let res = browser.post_json("/mfa/passkey/start", &json!({})).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("options")
}

async fn passwordless_options(browser: &Browser) -> Value {
    browser.get("/sign-in").await;
    let res = browser.post_json("/sign-in/passkey/start", &json!({})).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("options")
}

/// A staff member with a passkey as their only second factor.
async fn with_passkey(app: &TestApp, email: &str) -> (Person, Key) {
    let org = app.organization("Passkey Clinic").await;
    let person = app.person(email, "quiet lake morning 42").await;
    app.member(org, &person, "clinical_staff").await;
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(&person.email, &person.password).await), "/mfa/enrol");
    let mut key = Key::new();
    let res = key.register(&browser, "Work laptop").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    (person, key)
}

#[tokio::test]
async fn a_passkey_registers_and_then_serves_as_second_factor_and_for_passwordless_sign_in() {
    // MFA-08
    let app = spawn_app().spawn().await;
    let (nurse, mut key) = with_passkey(&app, "passkey@clinic.example").await;
    let mut su = app.database().superuser().await;
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM passkeys WHERE user_id = $1")
        .bind(nurse.id)
        .fetch_all(&mut su)
        .await
        .expect("passkeys");
    assert_eq!(names, ["Work laptop"]);

    // As the second factor after a password.
    let browser = app.browser();
    assert_eq!(location(&browser.sign_in(&nurse.email, &nurse.password).await), "/mfa");
    let assertion = key.assert(second_factor_options(&browser).await, ORIGIN);
    let res = browser.post_json("/mfa/passkey/finish", &assertion).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json")["redirect"], "/home");
    assert_eq!(browser.get("/workspace").await.status(), 200);

    // Passwordless: the passkey alone (it verified the person) signs in.
    let browser = app.browser();
    let assertion = key.assert(passwordless_options(&browser).await, ORIGIN);
    let res = browser.post_json("/sign-in/passkey/finish", &assertion).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.expect("json")["redirect"], "/home");
    assert_eq!(browser.get("/workspace").await.status(), 200);

    // A second passkey with its own name; then removing one.
    browser
        .post_form("/account/reauthenticate", &[("password", &nurse.password), ("next", "/account")])
        .await;
    let mut phone = Key::new();
    assert_eq!(phone.register(&browser, "Phone").await.status(), 200);
    let page = browser.get("/account").await.text().await.expect("page");
    assert!(page.contains("Work laptop") && page.contains("Phone"));
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM passkeys WHERE user_id = $1 AND name = 'Phone'")
        .bind(nurse.id)
        .fetch_one(&mut su)
        .await
        .expect("id");
    let res = browser.post_form(&format!("/account/passkeys/{id}/remove"), &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM passkeys WHERE user_id = $1")
        .bind(nurse.id)
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(left, 1);
}

#[tokio::test]
async fn ceremonies_work_once_and_assertions_cannot_be_replayed_or_borrowed() {
    // MFA-09
    let app = spawn_app().spawn().await;
    let (alice, mut alice_key) = with_passkey(&app, "alice@clinic.example").await;
    let (bob, mut bob_key) = with_passkey(&app, "bob@clinic.example").await;

    // Finish without start.
    let browser = app.browser();
    browser.sign_in(&alice.email, &alice.password).await;
    let res = browser.post_json("/mfa/passkey/finish", &json!({ "id": "x", "rawId": "eA", "response": { "authenticatorData": "", "clientDataJSON": "", "signature": "" }, "type": "public-key", "extensions": {} })).await;
    assert!(res.status().is_client_error(), "finish without start: {}", res.status());

    // Start as Alice, finish with Bob's credential.
    let options = second_factor_options(&browser).await;
    let mut borrowed = options.clone();
    borrowed["publicKey"]["allowCredentials"] = json!([]);
    let bobs = bob_key.assert(borrowed, ORIGIN);
    let res = browser.post_json("/mfa/passkey/finish", &bobs).await;
    assert_eq!(res.status(), 400, "someone else's passkey");
    assert_eq!(browser.get("/workspace").await.status(), 303);

    // A good assertion works once; the same assertion again (its ceremony is gone, and in
    // a new ceremony its challenge is wrong) does not.
    let options = second_factor_options(&browser).await;
    let assertion = alice_key.assert(options, ORIGIN);
    assert_eq!(browser.post_json("/mfa/passkey/finish", &assertion).await.status(), 200);
    let replayer = app.browser();
    replayer.sign_in(&alice.email, &alice.password).await;
    assert_eq!(replayer.post_json("/mfa/passkey/finish", &assertion).await.status(), 400, "no ceremony");
    second_factor_options(&replayer).await;
    assert_eq!(replayer.post_json("/mfa/passkey/finish", &assertion).await.status(), 400, "old challenge");
    assert_eq!(replayer.get("/workspace").await.status(), 303);

    // Two finishes of one ceremony at the same moment: exactly one succeeds.
    let racer = app.browser();
    racer.sign_in(&bob.email, &bob.password).await;
    let options = second_factor_options(&racer).await;
    let assertion = bob_key.assert(options, ORIGIN);
    let token = racer.csrf_token().await;
    let send = || {
        let (racer, assertion, token) = (racer.clone(), assertion.clone(), token.clone());
        async move {
            racer
                .client
                .post(racer.url("/mfa/passkey/finish"))
                .header("X-CSRF-Token", token)
                .json(&assertion)
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }
    };
    let (a, b) = tokio::join!(send(), send());
    let mut statuses = [a, b];
    statuses.sort_unstable();
    // The loser finds the ceremony gone (400), or, if the winner already cycled the
    // session id, no session at all (403): refused either way.
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(statuses[1] == 400 || statuses[1] == 403, "exactly one success: {statuses:?}");

    // The ceremony table is empty: every state was removed on first use.
    let mut su = app.database().superuser().await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM webauthn_ceremonies")
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(left, 0);
}

#[tokio::test]
async fn passkeys_without_user_verification_from_another_origin_or_with_a_counter_gone_back_are_refused() {
    // MFA-10
    let app = spawn_app().spawn().await;
    let (nurse, mut key) = with_passkey(&app, "policy@clinic.example").await;

    // No user verification: the authenticator is asked without it and says so.
    let browser = app.browser();
    browser.sign_in(&nurse.email, &nurse.password).await;
    let mut options = second_factor_options(&browser).await;
    options["publicKey"]["userVerification"] = json!("discouraged");
    let res = browser.post_json("/mfa/passkey/finish", &key.assert(options, ORIGIN)).await;
    assert_eq!(res.status(), 400, "user verification is required");

    // Another origin relaying our challenge (a phishing page).
    let options = second_factor_options(&browser).await;
    let res = browser.post_json("/mfa/passkey/finish", &key.assert(options, "http://evil.example")).await;
    assert_eq!(res.status(), 400, "wrong origin");

    // Tampered client data: the signature no longer covers it.
    let options = second_factor_options(&browser).await;
    let mut assertion = key.assert(options, ORIGIN);
    assertion["response"]["clientDataJSON"] = json!("eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0");
    assert_eq!(browser.post_json("/mfa/passkey/finish", &assertion).await.status(), 400, "tampered");
    assert_eq!(browser.get("/workspace").await.status(), 303);

    // A counter that went backwards (a copy of the key was used elsewhere): refused, and
    // the passkey is turned off.
    let mut su = app.database().superuser().await;
    sqlx::query(
        "UPDATE passkeys SET passkey = jsonb_set(passkey, '{cred,counter}', '1000') WHERE user_id = $1",
    )
    .bind(nurse.id)
    .execute(&mut su)
    .await
    .expect("advance the stored counter");
    let options = second_factor_options(&browser).await;
    let res = browser.post_json("/mfa/passkey/finish", &key.assert(options, ORIGIN)).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.expect("body").contains("turned off"));
    let disabled: bool =
        sqlx::query_scalar("SELECT disabled_at IS NOT NULL FROM passkeys WHERE user_id = $1")
            .bind(nurse.id)
            .fetch_one(&mut su)
            .await
            .expect("flag");
    assert!(disabled, "the passkey is flagged");
}

#[tokio::test]
async fn a_disabled_account_is_refused_on_every_path_its_passkey_and_its_open_sessions() {
    // SES-13: disabled_at set by whatever path (the platform console later, a database
    // change now): the passkey signs no one in, and a session already open is refused at
    // its next clinic request (the context check reads the account).
    let app = spawn_app().spawn().await;
    let (nurse, mut key) = with_passkey(&app, "disabled.passkey@clinic.example").await;
    let open = app.browser();
    let assertion = key.assert(passwordless_options(&open).await, ORIGIN);
    assert_eq!(open.post_json("/sign-in/passkey/finish", &assertion).await.status(), 200);
    assert_eq!(open.get("/patients").await.status(), 200);
    let mut su = app.database().superuser().await;
    sqlx::query("UPDATE users SET disabled_at = now() WHERE id = $1")
        .bind(nurse.id)
        .execute(&mut su)
        .await
        .expect("disable");
    assert_eq!(open.get("/patients").await.status(), 403, "the open session's context has ended");
    let browser = app.browser();
    let assertion = key.assert(passwordless_options(&browser).await, ORIGIN);
    let res = browser.post_json("/sign-in/passkey/finish", &assertion).await;
    assert_eq!(res.status(), 400);
    assert_eq!(browser.get("/account").await.status(), 303, "not signed in");
    let refusals: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'login_failed' AND details->>'reason' = 'disabled'",
    )
    .fetch_one(&mut su)
    .await
    .expect("audit");
    assert_eq!(refusals, 1);
}
