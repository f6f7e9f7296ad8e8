//! The application under test: built with the test's settings and routes, served on a
//! real port, with its clock, its logs and the people and clinics a test sets up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lockdev::clock::ManualClock;
use lockdev::config::{Config, LogConfig, LogFormat};
use lockdev::db::ids::{OrganizationId, UserId};
use lockdev::web::authenticate::Authenticated;
use lockdev::web::{self, AppState, RouteSpec, Routes};
use sqlx::PgPool;
use tracing_subscriber::fmt::MakeWriter;

use super::*;

/// Collects log output in memory for assertions.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogCapture {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(self.0.clone())
    }
}

pub struct TestAppBuilder {
    vars: HashMap<String, String>,
    routes: Routes,
    database: bool,
    verified_tls: bool,
    capture_logs: bool,
}

impl TestAppBuilder {
    /// Overrides one configuration variable.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds declared routes that exist only in tests; they run behind the full middleware
    /// stack and appear in the registry like production routes.
    pub fn routes(mut self, routes: Routes) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Points the app at a port where no database listens.
    pub fn without_database(mut self) -> Self {
        self.database = false;
        self
    }

    /// Connects as the runtime role over TLS with `sslmode=verify-full`, trusting the test
    /// cluster's own root certificate, as production connects.
    pub fn database_over_verified_tls(mut self) -> Self {
        self.verified_tls = true;
        self
    }

    /// Routes the app's logs (JSON, through the redaction layer) into memory. Works with
    /// `#[tokio::test]`'s single-threaded runtime, where the server runs on this thread.
    pub fn capture_logs(mut self) -> Self {
        self.capture_logs = true;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let database = if self.database { Some(TestDatabase::create().await) } else { None };
        let mut vars: HashMap<String, String> = [
            ("LOCKDEV_ENV", "development"),
            ("LOCKDEV_BIND", "127.0.0.1:0"),
            ("LOCKDEV_RATE_LIMIT_PER_SECOND", "0"),
            ("LOCKDEV_DB_MAX_CONNECTIONS", "4"),
            ("LOCKDEV_LOG", "info"),
            // WebAuthn needs a host name; soft authenticators in tests use this origin.
            ("LOCKDEV_PUBLIC_URL", "http://localhost"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        match &database {
            Some(db) if self.verified_tls => {
                vars.insert(RUNTIME_URL.into(), verified_tls_url(&db.runtime_url));
                vars.insert(OWNER_URL.into(), db.owner_url.clone());
            }
            Some(db) => {
                vars.insert(RUNTIME_URL.into(), db.runtime_url.clone());
                vars.insert(OWNER_URL.into(), db.owner_url.clone());
            }
            None => {
                vars.insert(RUNTIME_URL.into(), "postgres://nobody:nothing@127.0.0.1:1/none".into());
                vars.insert("LOCKDEV_DB_ACQUIRE_TIMEOUT_MS".into(), "200".into());
            }
        }
        vars.extend(self.vars);
        TestApp::start(vars, self.routes, database, self.capture_logs).await
    }
}

/// A running application and the means to talk to it.
pub struct TestApp {
    pub address: SocketAddr,
    /// Keeps cookies like a browser; does not follow redirects (tests look at them).
    pub client: reqwest::Client,
    /// The client's cookies (the session cookie), readable for raw requests.
    pub cookies: Arc<reqwest::cookie::Jar>,
    pub clock: Arc<ManualClock>,
    pub database: Option<TestDatabase>,
    pub logs: LogCapture,
    /// The application's own runtime-role pool.
    pub pool: PgPool,
    /// Every declared route, production and test.
    pub registry: Vec<RouteSpec>,
    /// The application's state (its hasher, limiters and mailer), for tests to inspect.
    pub state: AppState,
    acting: Arc<Mutex<Option<Authenticated>>>,
    _log_guard: Option<tracing::subscriber::DefaultGuard>,
}

pub fn spawn_app() -> TestAppBuilder {
    TestAppBuilder {
        vars: HashMap::new(),
        routes: Routes::new(),
        database: true,
        verified_tls: false,
        capture_logs: false,
    }
}

/// A fixed, ordinary moment for tests: 2026-03-09 15:00 UTC.
/// The moment the test clock starts: now, to the second. (Session records are read by
/// the database against its own clock, so the test clock must start where it is; tests
/// then move it forward.)
pub fn test_epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("valid")
}

impl TestApp {
    async fn start(
        vars: HashMap<String, String>,
        routes: Routes,
        database: Option<TestDatabase>,
        capture_logs: bool,
    ) -> Self {
        lockdev::integrations::install_tls_provider();
        let config =
            Config::from_lookup(|name| vars.get(name).cloned()).expect("test configuration is valid");
        let config_bind = vars.get("LOCKDEV_BIND").cloned().unwrap_or_else(|| "127.0.0.1:0".into());
        let logs = LogCapture::default();
        let log_guard = capture_logs.then(|| {
            let log_config = LogConfig { format: LogFormat::Json, filter: "info".into() };
            tracing::subscriber::set_default(lockdev::telemetry::subscriber(&log_config, logs.clone()))
        });
        let pool = lockdev::db::runtime_pool(&config.database).expect("runtime pool");
        let clock = Arc::new(ManualClock::new(test_epoch()));
        let state = lockdev::app::state(config, pool.clone(), clock.clone()).expect("application state");
        let app_state = state.clone();
        let all_routes = lockdev::app::routes(&state.config).merge(routes);
        let registry = all_routes.specs().to_vec();
        // Stands in for authentication until sign-in exists: the context a test chose
        // with `act_as` is attached to every request.
        let acting: Arc<Mutex<Option<Authenticated>>> = Arc::default();
        let acting_for_layer = acting.clone();
        let app = web::pipeline::app(state, all_routes).layer(axum::middleware::from_fn(
            move |mut req: axum::extract::Request, next: axum::middleware::Next| {
                let acting = acting_for_layer.clone();
                async move {
                    if let Some(context) = acting.lock().expect("context").clone() {
                        req.extensions_mut().insert(context);
                    }
                    next.run(req).await
                }
            },
        ));
        // Usually a free port; a test that needs to know it before start (its public URL
        // names it) chooses it with LOCKDEV_BIND.
        let listener = tokio::net::TcpListener::bind(config_bind).await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(web::pipeline::serve(listener, app, std::future::pending()));
        let cookies = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(cookies.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            address,
            client,
            cookies,
            clock,
            database,
            logs,
            pool,
            registry,
            state: app_state,
            acting,
            _log_guard: log_guard,
        }
    }

    /// Makes every following request act as `who` without signing in (`None`: only what
    /// the session says). For tests of what lies behind sign-in; sign-in itself is tested
    /// through the real pages.
    pub fn act_as(&self, who: Option<Authenticated>) {
        *self.acting.lock().expect("context") = who;
    }

    /// The CSRF token of this client's session (creating an anonymous session if needed),
    /// read from the sign-in form like a browser would.
    pub async fn csrf_token(&self) -> String {
        let html = self
            .client
            .get(self.url("/sign-in"))
            .send()
            .await
            .expect("sign-in page")
            .text()
            .await
            .expect("body");
        csrf_from(&html).unwrap_or_else(|| panic!("no CSRF token on the sign-in page:\n{html}"))
    }

    /// A form POST as a browser sends it (with the session's CSRF token field).
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.client.post(self.url(path)).form(&form).send().await.expect("request")
    }

    /// A second (third...) browser with its own session.
    pub fn browser(&self) -> Browser {
        Browser::new(self.address)
    }

    /// The default browser, the one `client` belongs to.
    pub fn default_browser(&self) -> Browser {
        Browser {
            client: self.client.clone(),
            cookies: self.cookies.clone(),
            base: format!("http://{}", self.address),
        }
    }

    /// Creates a person who can sign in with `password` (system work, as the owner).
    pub async fn person(&self, email: &str, password: &str) -> Person {
        let db = self.database();
        let owner = db.owner_pool().await;
        let id = UserId::new();
        let hash = lockdev::auth::password::hash_blocking(password);
        let mut tx = lockdev::db::tenant::begin_system(&owner, &Default::default()).await.expect("tx");
        sqlx::query("INSERT INTO users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(email)
            .bind(email.split('@').next().unwrap_or("Someone"))
            .bind(hash)
            .execute(&mut *tx)
            .await
            .expect("user");
        tx.commit().await.expect("commit");
        Person { id, email: email.to_owned(), password: password.to_owned(), totp: None }
    }

    /// Gives `person` a confirmed authenticator app; returns the person with its secret.
    pub async fn with_totp(&self, mut person: Person) -> Person {
        let owner = self.database().owner_pool().await;
        let secret = lockdev::auth::totp::new_secret();
        let key = lockdev::crypto::DataKey::new(&DEV_DATA_KEY);
        let context = lockdev::db::tenant::SystemContext { user_id: Some(person.id), ..Default::default() };
        let mut tx = lockdev::db::tenant::begin_system(&owner, &context).await.expect("tx");
        sqlx::query(
            "INSERT INTO totp_credentials (user_id, secret_ciphertext, confirmed_at) VALUES ($1, $2, now())",
        )
        .bind(person.id)
        .bind(key.encrypt(&secret))
        .execute(&mut *tx)
        .await
        .expect("totp");
        tx.commit().await.expect("commit");
        person.totp = Some(secret);
        person
    }

    /// A clinic.
    pub async fn organization(&self, name: &str) -> OrganizationId {
        let owner = self.database().owner_pool().await;
        let id = OrganizationId::new();
        let mut tx = lockdev::db::tenant::begin_system(&owner, &Default::default()).await.expect("tx");
        sqlx::query("INSERT INTO organizations (id, name) VALUES ($1, $2)")
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .expect("org");
        tx.commit().await.expect("commit");
        id
    }

    /// Makes `person` a member of `org` with `role`.
    pub async fn member(&self, org: OrganizationId, person: &Person, role: &str) {
        let owner = self.database().owner_pool().await;
        let mut tx =
            lockdev::db::tenant::begin_tenant(&owner, &lockdev::db::tenant::TenantContext::system(org))
                .await
                .expect("tx");
        sqlx::query("INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(org)
            .bind(person.id)
            .bind(role)
            .execute(&mut *tx)
            .await
            .expect("membership");
        tx.commit().await.expect("commit");
    }

    /// Gives `person` the portal login of `patient` at `org` (as an activated invitation
    /// would).
    pub async fn link_patient(
        &self,
        org: OrganizationId,
        patient: lockdev::db::ids::PatientId,
        person: &Person,
    ) {
        let owner = self.database().owner_pool().await;
        let mut tx =
            lockdev::db::tenant::begin_tenant(&owner, &lockdev::db::tenant::TenantContext::system(org))
                .await
                .expect("tx");
        sqlx::query("UPDATE patients SET user_id = $1 WHERE id = $2")
            .bind(person.id)
            .bind(patient)
            .execute(&mut *tx)
            .await
            .expect("link");
        tx.commit().await.expect("commit");
    }

    /// A job worker for this app (its pool, clock and channels), not scheduling.
    pub fn worker(&self, name: &str) -> lockdev::jobs::Worker {
        let registry = lockdev::app::job_kinds(&self.state.notifier).with(lockdev::bench::jobs::Probe);
        let context = lockdev::jobs::JobContext { pool: self.pool.clone(), clock: self.clock.clone() };
        let config =
            lockdev::jobs::WorkerConfig { schedule: false, ..lockdev::jobs::WorkerConfig::named(name) };
        lockdev::jobs::Worker::new(registry, context, config)
    }

    /// Works every job due at the test clock's now; returns how many finished.
    pub async fn run_jobs(&self) -> u64 {
        self.worker("test-worker").drain().await
    }

    /// The e-mail the development mailbox holds, newest first: (to, subject, text), after
    /// the queue has sent what was due.
    pub async fn mailbox(&self) -> Vec<(String, String, String)> {
        self.run_jobs().await;
        let mut su = self.database().superuser().await;
        sqlx::query_as(
            "SELECT to_address, subject, text_body FROM dev_mailbox ORDER BY created_at DESC, id DESC",
        )
        .fetch_all(&mut su)
        .await
        .expect("mailbox")
    }

    /// The first link in the newest message to `to`, waiting (up to ten seconds) for mail
    /// that is sent after the response.
    pub async fn eventual_link_to(&self, to: &str) -> String {
        for _ in 0..500 {
            if self.mailbox().await.iter().any(|(t, _, _)| t == to) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.link_sent_to(to).await
    }

    /// Empties the development mailbox.
    pub async fn clear_mailbox(&self) {
        let mut su = self.database().superuser().await;
        sqlx::query("DELETE FROM dev_mailbox").execute(&mut su).await.expect("clear");
    }

    /// The first link in the newest message to `to`.
    pub async fn link_sent_to(&self, to: &str) -> String {
        let mail = self.mailbox().await;
        let (_, _, text) =
            mail.iter().find(|(t, _, _)| t == to).unwrap_or_else(|| panic!("no mail to {to}: {mail:?}"));
        let link = text.split_whitespace().find(|w| w.starts_with("http")).expect("a link in the mail");
        // The path part: the tests talk to the server directly.
        let url: reqwest::Url = link.parse().expect("url");
        url.path().to_owned()
    }

    /// The `Cookie` header value the client would send.
    pub fn cookie_header(&self) -> String {
        use reqwest::cookie::CookieStore as _;
        self.cookies
            .cookies(&self.url("/").parse().expect("url"))
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// A GET as htmx sends it.
    pub async fn get_fragment(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).header("HX-Request", "true").send().await.expect("request")
    }

    pub fn database(&self) -> &TestDatabase {
        self.database.as_ref().expect("this app was spawned with a database")
    }

    /// Sends raw bytes and returns the raw response (for what an HTTP client library
    /// would not send: chunked bodies, odd headers).
    pub async fn raw(&self, request: &[u8]) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.address).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response).await;
        String::from_utf8_lossy(&response).into_owned()
    }
}

/// Every production route, as a development server declares them.
pub fn production_routes() -> Routes {
    let config = Config::from_lookup(|name| match name {
        "LOCKDEV_ENV" => Some("development".into()),
        _ => None,
    })
    .expect("development configuration");
    lockdev::app::routes(&config)
}

/// A handler that panics, to exercise the catch-panic path.
async fn panics() -> &'static str {
    panic!("deliberate test panic: SECRET-PANIC-DETAIL")
}

async fn echo(body: axum::body::Bytes) -> String {
    body.len().to_string()
}

/// Test-only routes behind the full stack: `GET /test/panic` panics; `POST /test/echo`
/// answers with the length of the body it read.
pub fn test_routes() -> Routes {
    use lockdev::web::{Access, Phi};
    // The echo reads its body as bytes, not as a form: declared raw.
    Routes::new().get("/test/panic", Access::Public, Phi::None, panics).post_raw(
        "/test/echo",
        Access::Public,
        Phi::None,
        echo,
    )
}
