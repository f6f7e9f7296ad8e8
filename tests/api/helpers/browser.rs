//! A browser for the tests: its own cookie jar, and what a person types (passwords,
//! authenticator codes, the CSRF token read off a page).

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::TimeDelta;
use lockdev::clock::ManualClock;
use lockdev::db::ids::UserId;

/// The development data key (what the tests' configuration uses), to store TOTP secrets.
pub const DEV_DATA_KEY: [u8; 32] = *b"lockdev-development-only-key-32b";

/// A person the tests made, with what they sign in with.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: UserId,
    pub email: String,
    pub password: String,
    pub totp: Option<Vec<u8>>,
}

/// An independent browser: its own cookie jar, so its own session.
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
    pub cookies: Arc<reqwest::cookie::Jar>,
    pub(crate) base: String,
}

impl Browser {
    pub fn new(address: SocketAddr) -> Self {
        let cookies = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(cookies.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self { client, cookies, base: format!("http://{address}") }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// The session cookie's value (empty when there is none).
    pub fn session_cookie(&self) -> String {
        use reqwest::cookie::CookieStore as _;
        self.cookies
            .cookies(&self.url("/").parse().expect("url"))
            .and_then(|v| {
                v.to_str().ok().and_then(|all| {
                    all.split("; ").find_map(|c| c.strip_prefix("lockdev_session=").map(str::to_owned))
                })
            })
            .unwrap_or_default()
    }

    /// Replaces the session cookie (to replay an old one).
    pub fn set_session_cookie(&self, value: &str) {
        let url: reqwest::Url = self.url("/").parse().expect("url");
        self.cookies.add_cookie_str(&format!("lockdev_session={value}; Path=/"), &url);
    }

    /// The CSRF token of this browser's session: from a page of the session if it has
    /// one (the account page), else from the sign-in form.
    pub async fn csrf_token(&self) -> String {
        for path in ["/account", "/sign-in"] {
            let res = self.get(path).await;
            if res.status() != 200 {
                continue;
            }
            if let Some(token) = csrf_from(&res.text().await.expect("body")) {
                return token;
            }
        }
        let html = self.get("/mfa").await.text().await.unwrap_or_default();
        csrf_from(&html).unwrap_or_else(|| panic!("no CSRF token found for this session"))
    }

    /// A form POST as a browser sends it (with the session's CSRF token field).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.client.post(self.url(path)).form(&form).send().await.expect("request")
    }

    /// A JSON POST as the passkey script sends it (the CSRF token in its header).
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        let token = self.csrf_token().await;
        self.client
            .post(self.url(path))
            .header("X-CSRF-Token", token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Submits the sign-in form.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        let html = self.get("/sign-in").await.text().await.expect("sign-in page");
        let token = csrf_from(&html).expect("the sign-in form has a CSRF token");
        self.client
            .post(self.url("/sign-in"))
            .form(&[("email", email), ("password", password), ("csrf_token", &token)])
            .send()
            .await
            .expect("request")
    }

    /// Signs in and passes the second factor if the person has TOTP; returns where the
    /// last step sent the browser.
    pub async fn sign_in_fully(&self, person: &Person, clock: &ManualClock) -> String {
        let res = self.sign_in(&person.email, &person.password).await;
        assert_eq!(
            res.status(),
            303,
            "sign-in of {}: {}",
            person.email,
            res.text().await.unwrap_or_default()
        );
        let mut location = res.headers()["location"].to_str().expect("ascii").to_owned();
        if location == "/mfa" {
            let secret = person.totp.as_ref().expect("a TOTP secret for a person asked for a second factor");
            // Each code is accepted once (the replay guard), so a second sign-in by the
            // same person waits for the next 30-second step, as a person would.
            clock.advance(TimeDelta::seconds(30));
            let code = totp_code(secret, clock);
            let res = self.post_form("/mfa/totp", &[("code", &code)]).await;
            assert_eq!(res.status(), 303, "second factor: {}", res.text().await.unwrap_or_default());
            location = res.headers()["location"].to_str().expect("ascii").to_owned();
        }
        location
    }
}

/// The current TOTP code for `secret` on the test clock.
pub fn totp_code(secret: &[u8], clock: &ManualClock) -> String {
    use lockdev::clock::Clock as _;
    lockdev::auth::totp::code_for_step(secret, lockdev::auth::totp::step_at(clock.now()))
}

/// Decodes the base32 key an authenticator app is given (RFC 4648, no padding needed).
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let index = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase()).expect("base32") as u64;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

/// The CSRF token in a page: the hidden form field, else the `hx-headers` of `<body>`.
pub fn csrf_from(html: &str) -> Option<String> {
    let field = html.split("name=\"csrf_token\" value=\"").nth(1).and_then(|s| s.split('"').next());
    let header = html.split("\"X-CSRF-Token\": \"").nth(1).and_then(|s| s.split('"').next());
    field.or(header).filter(|t| !t.is_empty()).map(str::to_owned)
}
