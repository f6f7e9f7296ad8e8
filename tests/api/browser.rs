//! What a person sees, in headless Chromium: a new staff member signs in, is sent to set
//! up an authenticator app, reads the key off the page, confirms it with a code, keeps
//! the recovery codes, signs out, and signs back in with the next code. Each page is
//! saved as a screenshot at phone and desktop sizes (target/screenshots/) and checked for
//! Content-Security-Policy violations.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::TimeDelta;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{TestApp, base32_decode, repo_root, spawn_app, totp_code};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 800);

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

async fn start_driver() -> Driver {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "Chromium and chromedriver are missing: run the tests with `just test`, which installs them"
    );
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { child, port }
}

async fn browser(driver: &Driver) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--window-size=390,844"],
        }),
    );
    capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    ClientBuilder::rustls()
        .expect("tls")
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session")
}

/// Saves the page at phone and desktop widths, and fails on a CSP violation.
async fn look(client: &Client, name: &str) {
    let dir = repo_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    for (label, (width, height)) in [("phone", PHONE), ("desktop", DESKTOP)] {
        client.set_window_size(width, height).await.expect("resize");
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}-{label}.png")), png).expect("write");
    }
    client.set_window_size(PHONE.0, PHONE.1).await.expect("resize");
    let violations = client.execute("return window.__cspViolations || [];", vec![]).await.expect("script");
    assert_eq!(violations, json!([]), "CSP violations on {name}");
}

/// Records CSP violations from now on (the page's own scripts run under the policy; this
/// one is injected by the driver, which the policy does not govern).
async fn watch_csp(client: &Client) {
    client
        .execute(
            "window.__cspViolations = []; document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
            vec![],
        )
        .await
        .expect("script");
}

async fn fill(client: &Client, selector: &str, text: &str) {
    let field = client.find(Locator::Css(selector)).await.unwrap_or_else(|_| panic!("no {selector}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn click(client: &Client, selector: &str) {
    client
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|_| panic!("no {selector}"))
        .click()
        .await
        .expect("click");
}

async fn path(client: &Client) -> String {
    client.current_url().await.expect("url").path().to_owned()
}

/// The path once it is `expected`, or whatever it is after five seconds: a click that
/// navigates returns before the next page has loaded when the machine is busy.
pub async fn path_becomes(client: &Client, expected: &str) -> String {
    for _ in 0..50 {
        let now = path(client).await;
        let ready = client
            .execute("return document.readyState", vec![])
            .await
            .map(|v| v == json!("complete"))
            .unwrap_or(false);
        if now == expected && ready {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    path(client).await
}

/// The page's main text. A navigation may be under way (the element not there yet, or
/// replaced while read), so it asks again for up to five seconds.
async fn text(client: &Client) -> String {
    for _ in 0..50 {
        if let Ok(main) = client.find(Locator::Css("main")).await
            && let Ok(text) = main.text().await
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.find(Locator::Css("main")).await.expect("main").text().await.expect("text")
}

/// Signs `person` in from the sign-in page the browser was sent to (password, then the
/// authenticator's current code), as a person does.
async fn sign_in_with_code(client: &Client, app: &TestApp, person: &crate::helpers::Person) {
    assert_eq!(path_becomes(client, "/sign-in").await, "/sign-in");
    fill(client, "#email", &person.email).await;
    fill(client, "#password", &person.password).await;
    click(client, "form[action='/sign-in'] button[type=submit]").await;
    assert_eq!(path_becomes(client, "/mfa").await, "/mfa");
    fill(client, "#code", &totp_code(person.totp.as_ref().expect("secret"), &app.clock)).await;
    click(client, "form[action='/mfa/totp'] button[type=submit]").await;
}

async fn app_for_browser() -> TestApp {
    let port = free_port();
    spawn_app()
        .env("LOCKDEV_BIND", &format!("127.0.0.1:{port}"))
        .env("LOCKDEV_PUBLIC_URL", &format!("http://localhost:{port}"))
        .spawn()
        .await
}

#[tokio::test]
async fn a_new_staff_member_signs_in_enrols_an_authenticator_signs_out_and_back_in() {
    let app = app_for_browser().await;
    let org = app.organization("Riverside Family Clinic").await;
    let nurse = app.person("nurse.new@riverside.example", "quiet lake morning 42").await;
    app.member(org, &nurse, "clinical_staff").await;
    let base = format!("http://localhost:{}", app.address.port());
    let driver = start_driver().await;
    let client = browser(&driver).await;

    client.goto(&format!("{base}/sign-in")).await.expect("sign-in page");
    watch_csp(&client).await;
    look(&client, "01-sign-in").await;
    fill(&client, "#email", &nurse.email).await;
    fill(&client, "#password", "not my password").await;
    click(&client, "form[action='/sign-in'] button[type=submit]").await;
    assert!(text(&client).await.contains("did not work"), "a wrong password is said so");
    assert_eq!(
        client.find(Locator::Css("#email")).await.expect("email").prop("value").await.expect("value"),
        Some(nurse.email.clone()),
        "what was typed is kept"
    );
    watch_csp(&client).await;
    look(&client, "02-sign-in-failed").await;

    fill(&client, "#password", &nurse.password).await;
    click(&client, "form[action='/sign-in'] button[type=submit]").await;
    assert_eq!(path_becomes(&client, "/mfa/enrol").await, "/mfa/enrol");
    watch_csp(&client).await;
    look(&client, "03-enrol").await;

    click(&client, "form[action='/account/totp/start'] button").await;
    assert_eq!(path_becomes(&client, "/account/totp").await, "/account/totp");
    watch_csp(&client).await;
    look(&client, "04-authenticator").await;
    assert!(client.find(Locator::Css("figure.qr svg")).await.is_ok(), "the QR code is on the page");
    let key = client.find(Locator::Css("[data-totp-secret]")).await.expect("key").text().await.expect("text");
    let secret = base32_decode(&key.replace(' ', ""));

    fill(
        &client,
        "#code",
        &lockdev::auth::totp::code_for_step(
            &secret,
            lockdev::auth::totp::step_at(lockdev::clock::Clock::now(&*app.clock)),
        ),
    )
    .await;
    click(&client, "form[action='/account/totp'] button[type=submit]").await;
    assert!(text(&client).await.contains("Your recovery codes"));
    watch_csp(&client).await;
    look(&client, "05-recovery-codes").await;
    click(&client, "a.button").await;
    assert_eq!(
        path_becomes(&client, "/home/rooming").await,
        "/home/rooming",
        "a nurse's home is the rooming queue"
    );
    assert!(text(&client).await.contains("Rooming queue"));
    watch_csp(&client).await;
    look(&client, "06-rooming-home").await;
    accessible(&client, "rooming home").await;

    client.goto(&format!("{base}/account")).await.expect("account");
    watch_csp(&client).await;
    look(&client, "07-account").await;

    // On a phone, sign-out sits behind the menu, as a person finds it.
    click(&client, "[data-menu-button]").await;
    click(&client, "form[action='/sign-out'] button").await;
    assert_eq!(path_becomes(&client, "/sign-in").await, "/sign-in");
    client.goto(&format!("{base}/workspace")).await.expect("workspace");
    assert_eq!(path_becomes(&client, "/sign-in").await, "/sign-in", "signed out: back to sign-in");

    // Back in with the next code from the app.
    app.clock.advance(TimeDelta::seconds(30));
    fill(&client, "#email", &nurse.email).await;
    fill(&client, "#password", &nurse.password).await;
    click(&client, "form[action='/sign-in'] button[type=submit]").await;
    assert_eq!(path_becomes(&client, "/mfa").await, "/mfa");
    watch_csp(&client).await;
    look(&client, "08-second-factor").await;
    let person = crate::helpers::Person { totp: Some(secret), ..nurse.clone() };
    fill(&client, "#code", &totp_code(person.totp.as_ref().expect("secret"), &app.clock)).await;
    click(&client, "form[action='/mfa/totp'] button[type=submit]").await;
    assert_eq!(
        path_becomes(&client, "/workspace").await,
        "/workspace",
        "back to the page asked for before signing in"
    );
    assert!(text(&client).await.contains("Workspace"));

    client.close().await.expect("close");
}

/// Runs axe-core on the page and fails on any serious or critical violation.
async fn accessible(client: &Client, name: &str) {
    let axe = std::fs::read_to_string(repo_root().join("target/e2e/node_modules/axe-core/axe.min.js"))
        .expect("axe-core is installed by scripts/ensure-browser.sh (run the tests with `just test`)");
    client.execute(&axe, vec![]).await.expect("load axe");
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
                .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                                 .map(v => v.id + ' ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("axe");
    assert_eq!(result, json!([]), "accessibility violations on {name}");
}

/// Waits until `selector` exists and its text contains `needle` (htmx swaps finish after
/// the click returns).
async fn wait_text(client: &Client, selector: &str, needle: &str) {
    for _ in 0..100 {
        if let Ok(element) = client.find(Locator::Css(selector)).await
            && element.text().await.unwrap_or_default().contains(needle)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{selector} never showed {needle:?}; page: {}", text(client).await);
}

async fn set_value(client: &Client, selector: &str, value: &str) {
    client
        .execute(
            "document.querySelector(arguments[0]).value = arguments[1];",
            vec![json!(selector), json!(value)],
        )
        .await
        .expect("set value");
}

#[tokio::test]
async fn a_provider_finds_a_patient_and_works_through_the_chart() {
    use lockdev::db::tenant::{TenantContext, begin_tenant};

    let app = app_for_browser().await;
    let org = app.organization("Riverside Family Clinic").await;
    let doctor = app.with_totp(app.person("dr.walk@riverside.example", "quiet lake morning 42").await).await;
    app.member(org, &doctor, "provider").await;
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    let provider: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO providers (organization_id, user_id, npi, credentials) VALUES ($1, $2, '1234567893', 'MD') RETURNING id",
    )
    .bind(org)
    .bind(doctor.id)
    .fetch_one(&mut *tx)
    .await
    .expect("provider");
    for (n, (given, family, born)) in
        [("Ana", "García", "1984-03-09"), ("Ben", "Garrison", "1975-11-30")].iter().enumerate()
    {
        sqlx::query(
            "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
             VALUES ($1, $2, $3, $4, $5::date, 'female')",
        )
        .bind(org)
        .bind(format!("W-{n}"))
        .bind(given)
        .bind(family)
        .bind(born)
        .execute(&mut *tx)
        .await
        .expect("patient");
    }
    sqlx::query("INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Follow-up', 20)")
        .bind(org)
        .execute(&mut *tx)
        .await
        .expect("kind");
    for weekday in 1..=7i16 {
        sqlx::query(
            "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends) VALUES ($1, $2, $3, '08:00', '18:00')",
        )
        .bind(org)
        .bind(provider)
        .bind(weekday)
        .execute(&mut *tx)
        .await
        .expect("hours");
    }
    tx.commit().await.expect("commit");

    let base = format!("http://localhost:{}", app.address.port());
    let driver = start_driver().await;
    let client = browser(&driver).await;
    client.goto(&format!("{base}/patients")).await.expect("registry");
    sign_in_with_code(&client, &app, &doctor).await;
    assert_eq!(path_becomes(&client, "/patients").await, "/patients", "back to the registry");
    watch_csp(&client).await;

    // Find: typing narrows the list (htmx, debounced), keyboard only.
    fill(&client, "#patient-search", "garc").await;
    for _ in 0..50 {
        let names = client.find_all(Locator::Css(".result__name")).await.expect("results");
        if names.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_text(&client, "#results", "García, Ana").await;
    assert!(!text(&client).await.contains("Garrison"));
    look(&client, "20-registry-search").await;
    accessible(&client, "registry").await;
    click(&client, ".result__name").await;
    for _ in 0..50 {
        if path(&client).await.starts_with("/patients/") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let chart = path(&client).await;
    wait_text(&client, "#patient-name", "Ana García").await;
    watch_csp(&client).await;
    look(&client, "21-chart-summary").await;
    accessible(&client, "chart summary").await;

    // A contact with every channel left unsafe.
    click(&client, "a.tabs__tab[href$='/contacts']").await;
    wait_text(&client, "#chart-section", "Add a contact").await;
    fill(&client, "#contact-value", "(617) 201-3344").await;
    click(&client, "#chart-section form.form button[type=submit]").await;
    wait_text(&client, "#chart-section", "Mobile phone added").await;
    wait_text(&client, ".contacts", "Not safe to text").await;
    look(&client, "22-chart-contacts").await;
    accessible(&client, "contacts").await;

    // A proxy with scheduling only.
    click(&client, "a.tabs__tab[href$='/access']").await;
    wait_text(&client, "#chart-section", "Give someone access").await;
    fill(&client, "#proxy-name", "Rosa García").await;
    fill(&client, "#proxy-email", "rosa@home.example").await;
    click(&client, "#chart-section input[name=scheduling]").await;
    click(&client, "#chart-section form[action$='/proxies'] button[type=submit]").await;
    wait_text(&client, "#chart-section", "Invitation sent to rosa@home.example").await;
    look(&client, "23-chart-proxies").await;
    accessible(&client, "proxies").await;

    // An appointment tomorrow at 10:00.
    click(&client, "a.tabs__tab[href$='/appointments']").await;
    wait_text(&client, "#chart-section", "Book a visit").await;
    let tomorrow = (lockdev::clock::Clock::now(app.clock.as_ref())
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive()
        + chrono::Duration::days(1))
    .to_string();
    set_value(&client, "#book-date", &tomorrow).await;
    set_value(&client, "#book-time", "10:00").await;
    fill(&client, "#book-reason", "Follow-up <b>bold</b>").await;
    click(&client, "#chart-section form.form[method=post][action$='/appointments'] button[type=submit]")
        .await;
    wait_text(&client, "#chart-section", "Booked for").await;
    wait_text(&client, "#chart-section", "Follow-up <b>bold</b>").await;
    look(&client, "24-chart-appointments").await;
    accessible(&client, "appointments").await;

    // A note, written and signed; its text is shown as text (no markup runs).
    click(&client, "a.tabs__tab[href$='/notes']").await;
    wait_text(&client, "#chart-section", "Clinical notes").await;
    click(&client, "#chart-section a[href$='/notes/new']").await;
    wait_text(&client, "#chart-section", "New note").await;
    fill(&client, "#note-title", "Follow-up visit").await;
    fill(&client, "#note-s", "<img src=x onerror=alert(1)> Feels well").await;
    fill(&client, "#note-p", "Recheck in 3 months").await;
    // "Save draft" saves in place: the status line answers, the typed text stays put.
    click(&client, "#note-form button[type=submit]:not([formaction])").await;
    wait_text(&client, "#draft-status", "Saved at").await;
    look(&client, "25-note-draft").await;
    accessible(&client, "note draft").await;
    // More words typed and never saved, then "Sign the note" at once: nothing is lost.
    fill(&client, "#note-p", "Recheck in 3 months; bloods before").await;
    click(&client, "#note-form button[formaction$='/sign']").await;
    client.accept_alert().await.expect("confirm signing");
    wait_text(&client, "#chart-section", "Signed. The note is now final").await;
    wait_text(&client, ".note__body", "<img src=x onerror=alert(1)> Feels well").await;
    wait_text(&client, ".note__body", "Recheck in 3 months; bloods before").await;
    let images = client.find_all(Locator::Css(".note__body img")).await.expect("query");
    assert!(images.is_empty(), "the note's markup was not rendered");
    look(&client, "26-note-signed").await;
    accessible(&client, "signed note").await;

    // The front desk's day view tomorrow shows the booking.
    client.goto(&format!("{base}/schedule?date={tomorrow}")).await.expect("schedule");
    wait_text(&client, "main", "García, Ana").await;
    watch_csp(&client).await;
    look(&client, "27-schedule-day").await;
    accessible(&client, "schedule").await;
    assert!(chart.starts_with("/patients/"));

    // Someone else books Ben for tomorrow: the open day view shows it by itself (Server-
    // Sent Events, then an htmx reload of the schedule), without the page reloading.
    client.execute("window.__stillTheSamePage = true;", vec![]).await.expect("mark");
    let later = lockdev::appointments::domain::instant(
        chrono_tz::America::New_York,
        tomorrow.parse().expect("date"),
        chrono::NaiveTime::from_hms_opt(11, 30, 0).expect("time"),
    )
    .expect("instant");
    let mut su = app.database().superuser().await;
    sqlx::query(
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
         SELECT $1, p.id, $2, t.id, $3, $3 + interval '20 minutes'
           FROM patients p, appointment_types t WHERE p.family_name = 'Garrison' AND t.organization_id = $1",
    )
    .bind(org)
    .bind(provider)
    .bind(later)
    .execute(&mut su)
    .await
    .expect("another booking");
    wait_text(&client, "#schedule-live", "Garrison, Ben").await;
    let same = client.execute("return window.__stillTheSamePage === true;", vec![]).await.expect("script");
    assert_eq!(same, json!(true), "updated in place");

    // Reminders: Ana's only number is unsafe everywhere, so hers is blocked with the
    // reason on her chart, and the team gets a task.
    let mut tx = lockdev::db::tenant::begin_system(&app.pool, &Default::default()).await.expect("tx");
    lockdev::jobs::enqueue(
        &mut tx,
        &lockdev::jobs::NewJob::new("reminders.plan", json!({})).for_organization(org),
        lockdev::clock::Clock::now(app.clock.as_ref()),
    )
    .await
    .expect("plan");
    tx.commit().await.expect("commit");
    app.run_jobs().await;
    client.goto(&format!("{base}/tasks")).await.expect("tasks");
    wait_text(&client, "main", "García").await;
    wait_text(&client, "main", "not marked safe for texts or voicemail").await;
    watch_csp(&client).await;
    look(&client, "28-tasks").await;
    accessible(&client, "tasks").await;
    client.goto(&format!("{base}{chart}/contacts")).await.expect("contacts");
    wait_text(&client, "#chart-section", "Blocked").await;
    wait_text(&client, "#chart-section", "No safe way to reach the patient").await;
    watch_csp(&client).await;
    look(&client, "29-chart-messages").await;
    accessible(&client, "chart messages").await;
    client.close().await.expect("close");
}

#[tokio::test]
async fn the_front_desk_removes_a_duplicate_chart_and_puts_it_back() {
    use lockdev::db::tenant::{TenantContext, begin_tenant};

    let app = app_for_browser().await;
    let org = app.organization("Riverside Family Clinic").await;
    let desk = app.with_totp(app.person("desk.walk@riverside.example", "quiet lake morning 42").await).await;
    app.member(org, &desk, "admin_staff").await;
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    let patient: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
         VALUES ($1, 'W-9', 'Ana', 'Duplicada', '1984-03-09', 'female') RETURNING id",
    )
    .bind(org)
    .fetch_one(&mut *tx)
    .await
    .expect("patient");
    tx.commit().await.expect("commit");
    let patient = lockdev::db::ids::PatientId::from_uuid(patient);

    let base = format!("http://localhost:{}", app.address.port());
    let driver = start_driver().await;
    let client = browser(&driver).await;
    client.goto(&format!("{base}/patients/{patient}/edit")).await.expect("chart");
    sign_in_with_code(&client, &app, &desk).await;
    let edit = format!("/patients/{patient}/edit");
    assert_eq!(path_becomes(&client, &edit).await, edit);
    watch_csp(&client).await;

    // The removal page says what it ends and asks why; sent without the tick it comes back.
    click(&client, "a[href$='/remove']").await;
    wait_text(&client, "#chart-section", "Remove Ana Duplicada from the registry").await;
    fill(&client, "#remove-reason", "Registered twice, see W-1").await;
    click(&client, "#chart-section button[type=submit]").await;
    wait_text(&client, "#chart-section", "Tick the box to confirm the removal.").await;
    look(&client, "40-remove-patient").await;
    accessible(&client, "remove patient").await;
    click(&client, "#chart-section input[name=confirm]").await;
    click(&client, "#chart-section button[type=submit]").await;
    assert_eq!(path_becomes(&client, "/patients/removed").await, "/patients/removed");
    wait_text(&client, "main", "Registered twice, see W-1").await;
    watch_csp(&client).await;
    look(&client, "41-removed-patients").await;
    accessible(&client, "removed patients").await;

    // Put back: the chart again.
    click(&client, "form[action$='/restore'] button[type=submit]").await;
    let chart = format!("/patients/{patient}");
    assert_eq!(path_becomes(&client, &chart).await, chart);
    wait_text(&client, "main", "Ana Duplicada").await;
    client.close().await.expect("close");
}

/// A provider's visit in a real browser, at phone and desktop widths: an allergy recorded
/// (the chart header shows it at once), vitals with a typing slip refused by its field and
/// then recorded (the trend drawn), a problem coded. axe-core clean, no CSP violation.
#[tokio::test]
async fn a_provider_records_allergies_vitals_and_problems() {
    use lockdev::db::tenant::{TenantContext, begin_tenant};

    let app = app_for_browser().await;
    let org = app.organization("Riverside Family Clinic").await;
    let doctor =
        app.with_totp(app.person("doctor.walk@riverside.example", "quiet lake morning 42").await).await;
    app.member(org, &doctor, "provider").await;
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    let patient: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
         VALUES ($1, 'W-21', 'Rosa', 'Mendes', '1961-07-14', 'female') RETURNING id",
    )
    .bind(org)
    .fetch_one(&mut *tx)
    .await
    .expect("patient");
    // Two earlier sets of vitals, so the trend has a line.
    sqlx::query(
        "INSERT INTO vitals (organization_id, patient_id, measured_at, systolic, diastolic, weight_g)
         VALUES ($1, $2, now() - interval '60 days', 142, 91, 71200), ($1, $2, now() - interval '30 days', 136, 88, 70400)",
    )
    .bind(org)
    .bind(patient)
    .execute(&mut *tx)
    .await
    .expect("vitals");
    tx.commit().await.expect("commit");
    let patient = lockdev::db::ids::PatientId::from_uuid(patient);

    let base = format!("http://localhost:{}", app.address.port());
    let driver = start_driver().await;
    let client = browser(&driver).await;
    let allergies = format!("/patients/{patient}/allergies");
    client.goto(&format!("{base}{allergies}")).await.expect("chart");
    sign_in_with_code(&client, &app, &doctor).await;
    assert_eq!(path_becomes(&client, &allergies).await, allergies);
    watch_csp(&client).await;
    wait_text(&client, ".chart-header", "Not recorded").await;
    // On a phone the navigation folds behind "Menu".
    let shown = async |selector: &str| {
        client.find(Locator::Css(selector)).await.expect("element").is_displayed().await.expect("displayed")
    };
    assert!(!shown("#site-nav").await, "folded on a phone");
    click(&client, "[data-menu-button]").await;
    assert!(shown("#site-nav").await, "the menu opens it");
    look(&client, "46-menu-open").await;
    click(&client, "[data-menu-button]").await;

    fill(&client, "#allergy-substance", "Penicillin").await;
    fill(&client, "#allergy-reaction", "Hives, throat swelling").await;
    client
        .execute("document.querySelector('#allergy-severity').value = 'severe';", vec![])
        .await
        .expect("severity");
    click(&client, "form[action$='/allergies'] button[type=submit]").await;
    wait_text(&client, ".chart-header", "Penicillin (severe)").await;
    watch_csp(&client).await;
    look(&client, "42-allergies").await;
    accessible(&client, "allergies").await;

    // Vitals: a temperature typed without its point comes back by its field, every value kept.
    click(&client, "a[data-tab][href$='/vitals']").await;
    wait_text(&client, "#chart-section", "Record vitals").await;
    fill(&client, "#vitals-systolic", "131").await;
    fill(&client, "#vitals-diastolic", "84").await;
    fill(&client, "#vitals-pulse", "76").await;
    fill(&client, "#vitals-temperature", "986").await;
    fill(&client, "#vitals-weight", "154").await;
    click(&client, "form[action$='/vitals'] button[type=submit]").await;
    wait_text(&client, "#chart-section", "between 86 and 113").await;
    let kept = client
        .execute("return document.querySelector('#vitals-systolic').value", vec![])
        .await
        .expect("value");
    assert_eq!(kept, json!("131"), "what was typed stays");
    fill(&client, "#vitals-temperature", "98.6").await;
    click(&client, "form[action$='/vitals'] button[type=submit]").await;
    wait_text(&client, "#chart-section", "Vitals recorded").await;
    wait_text(&client, "#chart-section", "131/84").await;
    client.execute("window.scrollTo(0, 0);", vec![]).await.expect("scroll");
    client.set_window_size(PHONE.0, PHONE.1).await.expect("resize");
    let sideways = client
        .execute("return document.documentElement.scrollWidth - window.innerWidth", vec![])
        .await
        .expect("width");
    assert!(
        sideways.as_i64().unwrap_or(1) <= 0,
        "the vitals page scrolls sideways on a phone by {sideways}px"
    );
    look(&client, "43-vitals").await;
    accessible(&client, "vitals").await;

    click(&client, "a[data-tab][href$='/problems']").await;
    wait_text(&client, "#chart-section", "Add a problem").await;
    fill(&client, "#problem-description", "Essential hypertension").await;
    fill(&client, "#problem-code", "I10").await;
    click(&client, "form[action$='/problems'] button[type=submit]").await;
    wait_text(&client, "#chart-section", "ICD-10 I10").await;
    look(&client, "44-problems").await;
    accessible(&client, "problems").await;
    client.close().await.expect("close");
}

/// The front desk merges a duplicate in a real browser: names it, compares both charts,
/// confirms; the chart that stays holds the duplicate's allergy.
#[tokio::test]
async fn the_front_desk_merges_two_charts() {
    use lockdev::db::tenant::{TenantContext, begin_tenant};

    let app = app_for_browser().await;
    let org = app.organization("Riverside Family Clinic").await;
    let desk = app.with_totp(app.person("desk.merge@riverside.example", "quiet lake morning 42").await).await;
    app.member(org, &desk, "admin_staff").await;
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    let mut ids = Vec::new();
    for (mrn, given) in [("W-31", "Katherine"), ("W-32", "Kathrine")] {
        let id: uuid::Uuid = sqlx::query_scalar(
            "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
             VALUES ($1, $2, $3, 'Johnson', '1984-03-09', 'female') RETURNING id",
        )
        .bind(org)
        .bind(mrn)
        .bind(given)
        .fetch_one(&mut *tx)
        .await
        .expect("patient");
        ids.push(id);
    }
    sqlx::query("INSERT INTO allergies (organization_id, patient_id, substance, severity) VALUES ($1, $2, 'Latex', 'moderate')")
        .bind(org)
        .bind(ids[1])
        .execute(&mut *tx)
        .await
        .expect("allergy");
    tx.commit().await.expect("commit");
    let survivor = lockdev::db::ids::PatientId::from_uuid(ids[0]);

    let base = format!("http://localhost:{}", app.address.port());
    let driver = start_driver().await;
    let client = browser(&driver).await;
    let merge = format!("/patients/{survivor}/merge");
    client.goto(&format!("{base}{merge}")).await.expect("merge page");
    sign_in_with_code(&client, &app, &desk).await;
    assert_eq!(path_becomes(&client, &merge).await, merge);
    watch_csp(&client).await;
    fill(&client, "#merge-mrn", "W-32").await;
    fill(&client, "#merge-reason", "Same person, name typed twice").await;
    click(&client, "form[action$='/merge'] button[type=submit]").await;
    wait_text(&client, "main", "Merged into it, then removed").await;
    watch_csp(&client).await;
    look(&client, "45-merge-compare").await;
    accessible(&client, "merge compare").await;
    click(&client, "input[name=confirm]").await;
    click(&client, "form[action$='/merge'] button[type=submit]").await;
    let chart = format!("/patients/{survivor}");
    assert_eq!(path_becomes(&client, &chart).await, chart);
    wait_text(&client, "main", "Katherine Johnson").await;
    client.close().await.expect("close");
    let mut su = app.database().superuser().await;
    let moved: i64 = sqlx::query_scalar("SELECT count(*) FROM allergies WHERE patient_id = $1")
        .bind(ids[0])
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(moved, 1, "the duplicate's allergy is on the chart that stays");
}

/// Presses the button labelled `label` in the grid's visit block (reached by keyboard, so
/// the block is open) until the grid says `then`: the live schedule may swap the grid
/// between finding the button and pressing it.
async fn press_in_block(client: &Client, label: &str, then: &str) {
    let xpath = format!("//li[contains(@class,'block')]//button[normalize-space()='{label}']");
    for _ in 0..10 {
        client.execute("document.querySelector('.block a')?.focus();", vec![]).await.expect("focus");
        if let Ok(button) = client.find(Locator::XPath(&xpath)).await
            && button.click().await.is_ok()
        {
            for _ in 0..30 {
                if let Ok(grid) = client.find(Locator::Css(".time-grid")).await
                    && grid.text().await.unwrap_or_default().contains(then)
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("pressing {label:?} never showed {then:?}; page: {}", text(client).await);
}

#[tokio::test]
async fn a_front_desk_morning_on_the_time_grid() {
    use lockdev::db::tenant::{TenantContext, begin_tenant};

    let app = app_for_browser().await;
    let org = app.organization("Riverside Family Clinic").await;
    let desk = app.with_totp(app.person("desk.grid@riverside.example", "quiet lake morning 42").await).await;
    app.member(org, &desk, "admin_staff").await;
    let doctor = app.person("doctor.grid@riverside.example", "quiet lake morning 42").await;
    app.member(org, &doctor, "provider").await;
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    let provider: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO providers (organization_id, user_id, npi, credentials) VALUES ($1, $2, '1245319599', 'MD') RETURNING id",
    )
    .bind(org)
    .bind(doctor.id)
    .fetch_one(&mut *tx)
    .await
    .expect("provider");
    // Open every day, so the walk finds free slots tomorrow whenever it runs.
    sqlx::query(
        "INSERT INTO provider_working_hours (organization_id, provider_id, weekday, starts, ends)
         SELECT $1, $2, d, '08:00', '18:00' FROM generate_series(1, 7) d",
    )
    .bind(org)
    .bind(provider)
    .execute(&mut *tx)
    .await
    .expect("hours");
    let kind: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Follow-up', 30) RETURNING id",
    )
    .bind(org)
    .fetch_one(&mut *tx)
    .await
    .expect("kind");
    let mut patients = Vec::new();
    for (mrn, given, family) in [("W-41", "Lena", "Okafor"), ("W-42", "Tomas", "Brandt")] {
        let id: uuid::Uuid = sqlx::query_scalar(
            "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
             VALUES ($1, $2, $3, $4, '1979-05-02', 'female') RETURNING id",
        )
        .bind(org)
        .bind(mrn)
        .bind(given)
        .bind(family)
        .fetch_one(&mut *tx)
        .await
        .expect("patient");
        patients.push(id);
    }
    // Lena's visit started this quarter hour (today, on the clinic's clock).
    sqlx::query(
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at, reason)
         SELECT $1, $2, $3, $4, s, s + interval '30 minutes', 'Blood pressure review'
           FROM (SELECT date_bin('15 minutes', now(), timestamptz '2000-01-01') AS s) q",
    )
    .bind(org)
    .bind(patients[0])
    .bind(provider)
    .bind(kind)
    .execute(&mut *tx)
    .await
    .expect("today's visit");
    tx.commit().await.expect("commit");

    let base = format!("http://localhost:{}", app.address.port());
    let driver = start_driver().await;
    let client = browser(&driver).await;
    client.goto(&format!("{base}/schedule")).await.expect("schedule");
    sign_in_with_code(&client, &app, &desk).await;
    assert_eq!(path_becomes(&client, "/schedule").await, "/schedule");
    watch_csp(&client).await;
    wait_text(&client, ".time-grid", "Okafor, Lena").await;
    look(&client, "47-day-grid").await;
    accessible(&client, "day grid").await;

    // Lena arrives: check in, then take it back (the wrong Lena at the desk). A short
    // block opens over the rows below when the keyboard reaches it, as here.
    client.execute("document.querySelector('.block a').focus();", vec![]).await.expect("focus");
    look(&client, "47-day-grid-visit-focused").await;
    press_in_block(&client, "Check in", "Checked in").await;
    watch_csp(&client).await;
    press_in_block(&client, "Undo check-in", "Booked").await;
    look(&client, "47-day-grid-after-undo").await;

    // Tomorrow: the first free slot, then the patient, then the kind of visit.
    click(&client, "a[rel=next]").await;
    wait_text(
        &client,
        "h1",
        &(chrono::Utc::now() + TimeDelta::days(1))
            .with_timezone(&chrono_tz::America::New_York)
            .format("%-d %B")
            .to_string(),
    )
    .await;
    watch_csp(&client).await;
    let slot = client.find(Locator::Css(".slot--open a")).await.expect("a free slot");
    let time = slot.text().await.expect("slot text");
    let time = time.trim().get(..5).expect("HH:MM").to_owned();
    slot.click().await.expect("click the slot");
    assert_eq!(path_becomes(&client, "/patients").await, "/patients");
    wait_text(&client, "main", "Choose the patient").await;
    watch_csp(&client).await;
    fill(&client, "#patient-search", "Brandt").await;
    wait_text(&client, "#results", "Brandt, Tomas").await;
    look(&client, "48-choose-the-patient").await;
    accessible(&client, "choose the patient").await;
    client
        .find(Locator::XPath("//a[contains(@class,'result__name')][contains(.,'Brandt')]"))
        .await
        .expect("result")
        .click()
        .await
        .expect("click");
    let section = format!("/patients/{}/appointments", lockdev::db::ids::PatientId::from_uuid(patients[1]));
    assert_eq!(path_becomes(&client, &section).await, section);
    wait_text(&client, "main", "The slot you chose on the schedule is filled in").await;
    watch_csp(&client).await;
    let typed =
        client.find(Locator::Css("#book-time")).await.expect("time").prop("value").await.expect("value");
    assert_eq!(typed.as_deref(), Some(time.as_str()));
    look(&client, "49-prefilled-booking").await;
    accessible(&client, "prefilled booking").await;
    set_value(&client, "#book-type", &lockdev::db::ids::AppointmentTypeId::from_uuid(kind).to_string()).await;
    click(&client, "form[action$='/appointments'].form button[type=submit]").await;
    wait_text(&client, "main", "Booked for").await;

    // Back on tomorrow's grid, the visit is a block where the slot was.
    client.back().await.ok();
    client
        .goto(&format!(
            "{base}/schedule?date={}",
            (chrono::Utc::now() + TimeDelta::days(1))
                .with_timezone(&chrono_tz::America::New_York)
                .date_naive()
        ))
        .await
        .expect("grid");
    wait_text(&client, ".time-grid", "Brandt, Tomas").await;
    look(&client, "50-booked-on-the-grid").await;
    client.close().await.expect("close");
}

#[tokio::test]
async fn an_administrator_makes_an_invited_provider_bookable() {
    use lockdev::db::tenant::{TenantContext, begin_tenant};

    let app = app_for_browser().await;
    let org = app.organization("Riverside Family Clinic").await;
    let admin =
        app.with_totp(app.person("admin.profiles@riverside.example", "quiet lake morning 42").await).await;
    app.member(org, &admin, "org_admin").await;
    // A provider who accepted an invitation: a member, no provider profile yet.
    let doctor = app.person("new.doctor@riverside.example", "quiet lake morning 42").await;
    app.member(org, &doctor, "provider").await;
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    sqlx::query("UPDATE users SET display_name = 'Dr Imani Okoye' WHERE id = $1")
        .bind(doctor.id)
        .execute(&mut *tx)
        .await
        .expect("name");
    tx.commit().await.expect("commit");

    let base = format!("http://localhost:{}", app.address.port());
    let driver = start_driver().await;
    let client = browser(&driver).await;
    client.goto(&format!("{base}/home")).await.expect("home");
    sign_in_with_code(&client, &app, &admin).await;
    assert_eq!(path_becomes(&client, "/home/admin").await, "/home/admin");
    watch_csp(&client).await;
    wait_text(&client, "main", "Providers who cannot be booked yet").await;
    look(&client, "51-admin-home").await;
    accessible(&client, "administrator's home").await;
    client
        .find(Locator::XPath("//a[normalize-space()='Dr Imani Okoye']"))
        .await
        .expect("the provider")
        .click()
        .await
        .expect("click");
    wait_text(&client, "main", "Create the provider profile").await;
    watch_csp(&client).await;
    // A mistyped NPI is caught at its check digit, the typing kept.
    fill(&client, "#npi", "1234567890").await;
    set_value(&client, "#credentials", "MD").await;
    fill(&client, "#specialty", "Pediatrics").await;
    click(&client, "form[action$='/profile/provider'] button[type=submit]").await;
    wait_text(&client, "main", "check digit does not match").await;
    look(&client, "52-provider-profile-error").await;
    accessible(&client, "provider profile with an error").await;
    fill(&client, "#npi", "1234567893").await;
    click(&client, "form[action$='/profile/provider'] button[type=submit]").await;
    wait_text(&client, "main", "Provider profile created").await;
    watch_csp(&client).await;
    set_value(&client, "#licence-state", "MA").await;
    fill(&client, "#licence-number", "MD-27311").await;
    let soon = (chrono::Utc::now() + TimeDelta::days(20)).format("%Y-%m-%d").to_string();
    set_value(&client, "#licence-expires", &soon).await;
    click(&client, "form[action$='/profile/licences'] button[type=submit]").await;
    wait_text(&client, "main", "expires within 60 days").await;
    look(&client, "53-provider-profile").await;
    accessible(&client, "provider profile").await;
    client.goto(&format!("{base}/home/admin")).await.expect("home again");
    wait_text(&client, "main", "MA MD-27311").await;
    wait_text(&client, "main", "Every provider has a provider profile.").await;
    client.close().await.expect("close");
}

#[tokio::test]
async fn an_administrator_works_the_weekly_tasks_keeps_the_clinic_profile_and_asks_a_second_administrator() {
    use lockdev::db::tenant::{TenantContext, begin_tenant};

    let app = app_for_browser().await;
    let org = app.organization("Harbor Health").await;
    let admin = app.with_totp(app.person("admin.tasks@harbor.example", "quiet lake morning 42").await).await;
    app.member(org, &admin, "org_admin").await;
    let doctor = app.person("dr.lee@harbor.example", "quiet lake morning 42").await;
    app.member(org, &doctor, "provider").await;
    let owner = app.database().owner_pool().await;
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    sqlx::query("UPDATE users SET display_name = 'Dr Min Lee' WHERE id = $1")
        .bind(doctor.id)
        .execute(&mut *tx)
        .await
        .expect("name");
    sqlx::query(
        "WITH p AS (INSERT INTO providers (organization_id, user_id, npi, credentials) VALUES ($1, $2, '1245319599', 'MD') RETURNING id)
         INSERT INTO provider_licenses (organization_id, provider_id, state, license_number, expires_on)
         SELECT $1, p.id, 'ME', 'ME-4410', current_date + 20 FROM p",
    )
    .bind(org)
    .bind(doctor.id)
    .execute(&mut *tx)
    .await
    .expect("licence");
    tx.commit().await.expect("commit");
    // The weekly round, as the scheduler would run it.
    let kinds = lockdev::app::job_kinds(&app.state.notifier);
    let now = lockdev::clock::Clock::now(&*app.clock);
    lockdev::jobs::schedule::queue_due(&app.pool, &kinds, now).await.expect("schedule");
    app.run_jobs().await;

    let base = format!("http://localhost:{}", app.address.port());
    let driver = start_driver().await;
    let client = browser(&driver).await;
    client.goto(&format!("{base}/home")).await.expect("home");
    sign_in_with_code(&client, &app, &admin).await;
    assert_eq!(path_becomes(&client, "/home/admin").await, "/home/admin");
    watch_csp(&client).await;
    wait_text(&client, "main", "ME licence ME-4410 runs out on").await;
    look(&client, "54-admin-tasks").await;
    accessible(&client, "administrator's tasks").await;
    click(&client, "form[action$='/done'] button[type=submit]").await;
    wait_text(&client, "main", "Done: Dr Min Lee").await;

    client.goto(&format!("{base}/settings/profile")).await.expect("profile");
    wait_text(&client, "main", "Clinic profile and locations").await;
    watch_csp(&client).await;
    fill(&client, "#clinic-tax-id", "12-3456789").await;
    fill(&client, "#clinic-line1", "40 Harbor Way").await;
    fill(&client, "#clinic-city", "Portland").await;
    set_value(&client, "#clinic-state", "ME").await;
    fill(&client, "#clinic-postal", "0410").await;
    click(&client, "form[action='/settings/profile'] button[type=submit]").await;
    wait_text(&client, "main", "Enter the ZIP code").await;
    look(&client, "55-clinic-profile-error").await;
    accessible(&client, "clinic profile with an error").await;
    fill(&client, "#clinic-postal", "04101").await;
    click(&client, "form[action='/settings/profile'] button[type=submit]").await;
    wait_text(&client, "main", "Clinic profile saved.").await;
    watch_csp(&client).await;
    fill(&client, "#location-name", "Harbor Way").await;
    fill(&client, "#location-line1", "40 Harbor Way").await;
    fill(&client, "#location-city", "Portland").await;
    set_value(&client, "#location-state", "ME").await;
    fill(&client, "#location-postal", "04101").await;
    fill(&client, "#location-phone", "(207) 555-0142").await;
    click(&client, "form[action='/settings/locations'] button[type=submit]").await;
    wait_text(&client, "main", "Harbor Way added.").await;
    look(&client, "56-clinic-profile").await;
    accessible(&client, "clinic profile and locations").await;

    client.goto(&format!("{base}/members")).await.expect("members");
    wait_text(&client, "main", "Changes for yourself").await;
    watch_csp(&client).await;
    set_value(&client, "#request-role", "provider").await;
    fill(&client, "#request-reason", "Covering Saturday clinics").await;
    click(&client, "form[action='/members/requests'] button[type=submit]").await;
    // Asking is a sensitive change: the second factor is asked for again when the last
    // one is older than the step-up window; right after sign-in it is fresh.
    wait_text(&client, "main", "Asked. Another administrator").await;
    wait_text(&client, "main", "Waiting for another administrator.").await;
    look(&client, "57-members-approvals").await;
    accessible(&client, "members with a request waiting").await;
    client.close().await.expect("close");
}

/// Signs `person` in from a fresh browser and returns where they land.
async fn signed_in_browser(
    app: &TestApp,
    driver: &Driver,
    person: &crate::helpers::Person,
    lands: &str,
) -> Client {
    let client = browser(driver).await;
    client.goto(&format!("http://localhost:{}/home", app.address.port())).await.expect("home");
    sign_in_with_code(&client, app, person).await;
    assert_eq!(path_becomes(&client, lands).await, lands);
    client
}

/// Opens `path`, waits for `needle`, and checks the page (screenshots, axe-core, CSP).
async fn visit(client: &Client, app: &TestApp, path: &str, needle: &str, name: &str) {
    client.goto(&format!("http://localhost:{}{path}", app.address.port())).await.expect("page");
    watch_csp(client).await;
    wait_text(client, "main", needle).await;
    look(client, name).await;
    accessible(client, name).await;
}

/// The platform and compliance consoles and the clinic's support pages, as their people
/// use them: platform support walks clinics, roles, health and opens one record under
/// break-glass (the banner on the chart) and ends it; the auditor closes its review; the
/// clinic's administrator reads the emergency access log and acts as a member (the
/// banner) and stops. Phone and desktop screenshots, axe-core clean, no CSP violation.
#[tokio::test]
async fn the_consoles_break_glass_and_acting_as_a_member_in_a_browser() {
    use lockdev::db::tenant::{TenantContext, begin_tenant};

    let app = app_for_browser().await;
    let org = app.organization("Riverside Family Clinic").await;
    let admin =
        app.with_totp(app.person("admin.console@riverside.example", "quiet lake morning 42").await).await;
    app.member(org, &admin, "org_admin").await;
    let nurse = app.person("nurse.console@riverside.example", "quiet lake morning 42").await;
    app.member(org, &nurse, "clinical_staff").await;
    let support = app.with_totp(app.person("support@platform.example", "quiet lake morning 42").await).await;
    let auditor = app.with_totp(app.person("auditor@platform.example", "quiet lake morning 42").await).await;
    let owner = app.database().owner_pool().await;
    let mut su = app.database().superuser().await;
    for (who, role) in [(&support, "super_admin"), (&auditor, "auditor")] {
        sqlx::query("INSERT INTO platform_roles (user_id, role) VALUES ($1, $2)")
            .bind(who.id)
            .bind(role)
            .execute(&mut su)
            .await
            .expect("role");
    }
    let mut tx = begin_tenant(&owner, &TenantContext::system(org)).await.expect("tx");
    let patient: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO patients (organization_id, mrn, given_name, family_name, date_of_birth, legal_sex)
         VALUES ($1, 'MRN-4411', 'Maria', 'Lopez', '1980-04-01', 'female') RETURNING id",
    )
    .bind(org)
    .fetch_one(&mut *tx)
    .await
    .expect("patient");
    sqlx::query(
        "INSERT INTO jobs (organization_id, kind, state, attempts, max_attempts, run_at, finished_at, last_error)
         VALUES ($1, 'licences.tasks', 'dead', 8, 8, now(), now(), 'upstream timed out')",
    )
    .bind(org)
    .execute(&mut *tx)
    .await
    .expect("dead job");
    tx.commit().await.expect("commit");
    let patient = lockdev::db::ids::PatientId::from_uuid(patient);

    let driver = start_driver().await;
    // Platform support.
    let client = signed_in_browser(&app, &driver, &support, "/platform").await;
    visit(&client, &app, "/platform", "Platform roles", "61-platform-home").await;
    visit(&client, &app, "/platform/clinics", "Riverside Family Clinic", "62-platform-clinics").await;
    visit(&client, &app, "/platform/roles", "support@platform.example", "63-platform-roles").await;
    visit(&client, &app, "/platform/health", "upstream timed out", "64-platform-health").await;
    visit(&client, &app, "/platform/break-glass", "Open one record", "65-break-glass-ask").await;
    set_value(&client, "#bg-clinic", &org.to_string()).await;
    fill(&client, "#bg-mrn", "MRN-4411").await;
    click(&client, "input[name=purpose][value=support_request]").await;
    fill(&client, "#bg-reason", "Clinic ticket 4411: the chart will not open").await;
    click(&client, "form[action='/platform/break-glass'] button[type=submit]").await;
    let chart = format!("/patients/{patient}");
    assert_eq!(path_becomes(&client, &chart).await, chart);
    watch_csp(&client).await;
    wait_text(&client, "body", "Emergency access to one patient").await;
    wait_text(&client, "main", "Lopez").await;
    look(&client, "66-break-glass-chart").await;
    accessible(&client, "the chart under break-glass").await;
    click(&client, ".emergency-banner button[type=submit]").await;
    assert_eq!(path_becomes(&client, "/platform").await, "/platform");
    client.close().await.expect("close");

    // The auditor closes the review once the access is over.
    let client = signed_in_browser(&app, &driver, &auditor, "/compliance").await;
    visit(&client, &app, "/compliance/break-glass", "MRN-4411", "67-break-glass-review").await;
    click(&client, "input[name=finding][value=appropriate]").await;
    click(&client, "form[action*='/review'] button[type=submit]").await;
    wait_text(&client, "main", "Review recorded").await;
    look(&client, "68-break-glass-reviewed").await;
    let accounting = format!("/compliance/disclosures?clinic={org}&mrn=MRN-4411");
    visit(&client, &app, &accounting, "Record MRN-4411 at Riverside Family Clinic", "72-disclosures").await;
    wait_text(&client, "main", "break_glass_started").await;
    client.close().await.expect("close");

    // The clinic's administrator: the log, then acting as the nurse.
    let client = signed_in_browser(&app, &driver, &admin, "/home/admin").await;
    visit(&client, &app, "/settings/emergency-access", "Appropriate", "69-emergency-access-log").await;
    visit(&client, &app, "/impersonation", "nurse.console", "70-act-as").await;
    click(&client, "input[name=membership]").await;
    fill(&client, "#imp-reason", "She cannot see the rooming list").await;
    click(&client, "form[action='/impersonation'] button[type=submit]").await;
    assert_eq!(path_becomes(&client, "/home/rooming").await, "/home/rooming");
    watch_csp(&client).await;
    wait_text(&client, "body", "You are acting as nurse.console").await;
    look(&client, "71-acting-as-a-member").await;
    accessible(&client, "acting as a member").await;
    click(&client, ".emergency-banner button[type=submit]").await;
    assert_eq!(path_becomes(&client, "/home/admin").await, "/home/admin");
    client.close().await.expect("close");
    let both = format!(
        "SELECT count(*) FROM audit_events WHERE actor_user_id = '{}' AND acting_for_user_id = '{}'",
        admin.id.as_uuid(),
        nurse.id.as_uuid()
    );
    assert!(crate::workspace::count(&app, &both).await >= 2, "started and stopped, with both people");
}
