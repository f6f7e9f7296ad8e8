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

async fn text(client: &Client) -> String {
    client.find(Locator::Css("main")).await.expect("main").text().await.expect("text")
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
    assert_eq!(path(&client).await, "/mfa/enrol");
    watch_csp(&client).await;
    look(&client, "03-enrol").await;

    click(&client, "form[action='/account/totp/start'] button").await;
    assert_eq!(path(&client).await, "/account/totp");
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
    assert_eq!(path(&client).await, "/workspace", "home for staff is the workspace");
    assert!(text(&client).await.contains("Workspace"));
    watch_csp(&client).await;
    look(&client, "06-workspace").await;

    client.goto(&format!("{base}/account")).await.expect("account");
    watch_csp(&client).await;
    look(&client, "07-account").await;

    click(&client, "form[action='/sign-out'] button").await;
    assert_eq!(path(&client).await, "/sign-in");
    client.goto(&format!("{base}/workspace")).await.expect("workspace");
    assert_eq!(path(&client).await, "/sign-in", "signed out: back to sign-in");

    // Back in with the next code from the app.
    app.clock.advance(TimeDelta::seconds(30));
    fill(&client, "#email", &nurse.email).await;
    fill(&client, "#password", &nurse.password).await;
    click(&client, "form[action='/sign-in'] button[type=submit]").await;
    assert_eq!(path(&client).await, "/mfa");
    watch_csp(&client).await;
    look(&client, "08-second-factor").await;
    let person = crate::helpers::Person { totp: Some(secret), ..nurse.clone() };
    fill(&client, "#code", &totp_code(person.totp.as_ref().expect("secret"), &app.clock)).await;
    click(&client, "form[action='/mfa/totp'] button[type=submit]").await;
    assert_eq!(path(&client).await, "/workspace", "back to the page asked for before signing in");
    assert!(text(&client).await.contains("Workspace"));

    client.close().await.expect("close");
}
