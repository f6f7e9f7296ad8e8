//! The test harness: the real application on a real port, against a fresh database per
//! test, with the app's pool connected as the runtime role.
//!
//! Databases: the first test (of any process) to need one migrates a template database
//! named after the migrations' checksums, under an advisory lock; every test then clones
//! it (`CREATE DATABASE … TEMPLATE`), which takes milliseconds. Connection details come
//! from `LOCKDEV_DATABASE_URL` (runtime role) and `LOCKDEV_MIGRATION_DATABASE_URL` (owner
//! role, may create databases), which `just test` provides.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use lockdev::clock::ManualClock;
use lockdev::config::{Config, LogConfig, LogFormat};
use lockdev::db::ids::{OrganizationId, UserId};
use lockdev::web::authenticate::Authenticated;
use lockdev::web::{self, AppState, RouteSpec, Routes};
use sha2::Digest as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool};
use tracing_subscriber::fmt::MakeWriter;

const RUNTIME_URL: &str = "LOCKDEV_DATABASE_URL";
const OWNER_URL: &str = "LOCKDEV_MIGRATION_DATABASE_URL";

fn env_url(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `just test`, which starts a database and sets it")
    })
}

/// The test cluster's root certificate (scripts/pg.sh makes one per cluster).
pub fn test_database_ca() -> String {
    std::env::var("LOCKDEV_TEST_DATABASE_CA").unwrap_or_else(|_| {
        panic!(
            "LOCKDEV_TEST_DATABASE_CA is not set: run the tests with `just test`, whose cluster serves TLS"
        )
    })
}

/// `url` (no query yet) with TLS verified against the test cluster's root certificate.
pub fn verified_tls_url(url: &str) -> String {
    format!("{url}?sslmode=verify-full&sslrootcert={}", test_database_ca())
}

/// `url` pointing at database `name` instead.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

/// The migrated template every test database is cloned from.
async fn template_database(owner_url: &str) -> String {
    let mut digest = sha2::Sha256::new();
    for migration in lockdev::db::MIGRATOR.iter() {
        digest.update(migration.version.to_le_bytes());
        digest.update(&*migration.checksum);
    }
    let hash: String = digest.finalize()[..6].iter().map(|b| format!("{b:02x}")).collect();
    let template = format!("lockdev_tpl_{hash}");

    let mut admin =
        PgConnection::connect(&with_database(owner_url, "postgres")).await.expect("connect as owner");
    sqlx::query("SELECT pg_advisory_lock(7262021)").execute(&mut admin).await.expect("lock");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
        .bind(&template)
        .fetch_one(&mut admin)
        .await
        .expect("query pg_database");
    if !exists {
        // Build under a temporary name, rename when complete: a half-migrated template is
        // never visible to a concurrent test.
        let building = format!("{template}_building");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {building}")).execute(&mut admin).await.expect("drop");
        sqlx::query(&format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .await
            .expect("create template");
        let owner = PgPoolOptions::new()
            .max_connections(1)
            .connect(&with_database(owner_url, &building))
            .await
            .expect("connect to template");
        lockdev::db::migrate(&owner).await.expect("migrate template");
        owner.close().await;
        sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {template}"))
            .execute(&mut admin)
            .await
            .expect("rename template");
        drop_stale_databases(&mut admin, &template).await;
    }
    sqlx::query("SELECT pg_advisory_unlock(7262021)").execute(&mut admin).await.expect("unlock");
    template
}

/// Outdated templates and test databases older than two hours (their ULID says when they
/// were made) would pile up on a long-lived development cluster.
async fn drop_stale_databases(admin: &mut PgConnection, current_template: &str) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'lockdev_tpl_%' OR datname LIKE 'lockdev_test_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    let cutoff = Utc::now() - TimeDelta::hours(2);
    for name in names {
        let stale = match name.strip_prefix("lockdev_test_") {
            Some(id) => ulid::Ulid::from_string(&id.to_uppercase())
                .map(|u| DateTime::<Utc>::from(u.datetime()) < cutoff)
                .unwrap_or(false),
            None => name != current_template,
        };
        if stale {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// A database of this test's own, migrated, empty.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub name: String,
    pub runtime_url: String,
    pub owner_url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let owner_url = env_url(OWNER_URL);
        let runtime_url = env_url(RUNTIME_URL);
        let template = template_database(&owner_url).await;
        let name = format!("lockdev_test_{}", ulid::Ulid::new().to_string().to_lowercase());
        let mut admin = PgConnection::connect(&with_database(&owner_url, "postgres")).await.expect("connect");
        sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut admin)
            .await
            .expect("clone the template database");
        Self {
            runtime_url: with_database(&runtime_url, &name),
            owner_url: with_database(&owner_url, &name),
            name,
        }
    }

    /// A pool as the runtime role (what the application uses).
    pub async fn runtime_pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(2).connect(&self.runtime_url).await.expect("runtime pool")
    }

    /// A connection as a superuser (row-level security and privileges do not apply), for
    /// tests that play an attacker holding the keys.
    pub async fn superuser(&self) -> PgConnection {
        let url = std::env::var("LOCKDEV_TEST_SUPERUSER_URL")
            .expect("LOCKDEV_TEST_SUPERUSER_URL is not set: run the tests with `just test`");
        PgConnection::connect(&with_database(&url, &self.name)).await.expect("connect as superuser")
    }

    /// A pool as the owner role, for looking at what the app did from outside it.
    pub async fn owner_pool(&self) -> PgPool {
        PgPoolOptions::new().max_connections(2).connect(&self.owner_url).await.expect("owner pool")
    }
}

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
    base: String,
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

/// A PostgreSQL cluster of one test's own, for tests that stop and start the server.
pub struct DedicatedCluster {
    dir: PathBuf,
    pub runtime_url: String,
    pub owner_url: String,
}

impl DedicatedCluster {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("lockdev-cluster-{}", ulid::Ulid::new()));
        Self::pg(&["up", "--fast", "--dir"], &dir);
        let env = std::fs::read_to_string(dir.with_extension("env")).expect("cluster env file");
        let value = |key: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {key}=")))
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("{key} in the cluster env file"))
        };
        let cluster = Self { runtime_url: value(RUNTIME_URL), owner_url: value(OWNER_URL), dir };
        let owner = lockdev::db::owner_pool(&lockdev::config::Secret::new(cluster.owner_url.clone()))
            .await
            .expect("owner pool");
        lockdev::db::migrate(&owner).await.expect("migrate");
        owner.close().await;
        cluster
    }

    pub fn stop(&self) {
        Self::pg(&["down", "--dir"], &self.dir);
    }

    pub fn restart(&self) {
        Self::pg(&["up", "--dir"], &self.dir);
    }

    fn pg(args: &[&str], dir: &Path) {
        let output = Command::new(repo_root().join("scripts/pg.sh"))
            .args(args)
            .arg(dir)
            .output()
            .expect("run scripts/pg.sh");
        assert!(
            output.status.success(),
            "pg.sh {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for DedicatedCluster {
    fn drop(&mut self) {
        let _ =
            Command::new(repo_root().join("scripts/pg.sh")).args(["reset", "--dir"]).arg(&self.dir).output();
    }
}

/// Connects as the runtime role to `url`'s database, for assertions.
pub async fn connect(url: &str) -> PgConnection {
    PgConnection::connect_with(&PgConnectOptions::from_str(url).expect("url")).await.expect("connect")
}

/// Writes to stderr without going through the test harness capture (debugging aid).
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}
