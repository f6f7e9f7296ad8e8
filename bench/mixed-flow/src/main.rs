//! S11, the mixed flow: many front-desk staff working through a day against a running
//! Lockdev, each with a cookie jar of their own.
//!
//! Each simulated person signs in once (password, then the authenticator code; terms and
//! clinic choice if asked), then repeats, with a pause of a few seconds between steps as a
//! person reading the screen would: the workspace, a name search in the registry, a
//! patient's summary from the results, that patient's contacts and appointments, the
//! day's schedule. Desk `k` (`desk000@bench.example` …) is simulated user `k`, each from
//! an address of its own, as through a load balancer.
//!
//! Goose's own options choose the load (`--host`, `--users`, `--hatch-rate`,
//! `--run-time`); the think time comes from `LOCKDEV_THINK_MS` (`min-max`). Metrics are
//! reset once every user has signed in, so the figures are of the steady day, not the
//! morning's sign-in storm. The last line printed is a JSON summary: requests, errors,
//! p50 and p99 in milliseconds over all requests, and the same per named request.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use goose::goose::GooseResponse;
use goose::metrics::GooseMetrics;
use goose::prelude::*;
use hmac::{Hmac, Mac};
use regex::Regex;

const PASSWORD: &str = "bench-password-2026";
/// The bench staff's authenticator secret (benchmark data only).
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// Name fragments that occur in the synthetic registry (its names are made of these).
const FRAGMENTS: [&str; 10] =
    ["kalo", "merton", "visa", "denri", "belmon", "tane", "grolin", "hador", "pesul", "varzo"];

static CSRF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"name="csrf_token" value="([^"]+)""#).expect("pattern"));
static ACCEPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"name="accept" value="([^"]+)""#).expect("pattern"));
static CONTEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"name="context" value="([^"]+)""#).expect("pattern"));
static PATIENT_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"href="/patients/([0-9A-Z]{26})""#).expect("pattern"));

/// What one simulated person keeps between steps.
#[derive(Clone)]
struct Desk {
    csrf: String,
    patients: Vec<String>,
    step: usize,
}

fn totp_now() -> String {
    let key =
        data_encoding::BASE32_NOPAD.decode(TOTP_SECRET.trim_end_matches('=').as_bytes()).unwrap_or_default();
    let counter = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 30);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).expect("any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 15);
    let code =
        u32::from_be_bytes([digest[offset], digest[offset + 1], digest[offset + 2], digest[offset + 3]])
            & 0x7fff_ffff;
    format!("{:06}", code % 1_000_000)
}

fn csrf_in(html: &str) -> Option<String> {
    CSRF.captures(html).map(|c| c[1].to_owned())
}

/// Reads a response's body; a transport error or a page other than the one expected
/// (a sign-in page where a chart should be) is counted as a failure.
async fn page(
    user: &mut GooseUser,
    mut response: GooseResponse,
    expect_path: Option<&str>,
) -> Result<(String, String), Box<TransactionError>> {
    let reply = match response.response {
        Ok(reply) => reply,
        Err(error) => {
            user.set_failure(&format!("transport: {error}"), &mut response.request, None, None)?;
            return Ok((String::new(), String::new()));
        }
    };
    let landed = reply.url().path().to_owned();
    let status = reply.status();
    let body = reply.text().await.unwrap_or_default();
    if !status.is_success() {
        user.set_failure(&format!("status {status}"), &mut response.request, None, None)?;
    } else if let Some(expected) = expect_path
        && !landed.starts_with(expected)
    {
        user.set_failure(&format!("landed on {landed}"), &mut response.request, None, None)?;
    }
    Ok((landed, body))
}

async fn post(
    user: &mut GooseUser,
    path: &str,
    name: &str,
    form: &[(&str, &str)],
) -> Result<GooseResponse, Box<TransactionError>> {
    let url = user.build_url(path)?;
    let builder = user.client.post(url).form(form);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    user.request(request).await
}

async fn sign_in(user: &mut GooseUser) -> TransactionResult {
    let k = user.weighted_users_index;
    let mut headers = reqwest::header::HeaderMap::new();
    let address = format!("10.11.{}.{}", k / 250, k % 250 + 1);
    headers.insert("x-forwarded-for", address.parse().expect("an address is a header value"));
    // What a browser sends: the server compresses what it answers (the client decodes it).
    headers.insert("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".parse().expect("value"));
    headers.insert("accept-language", "en-US,en;q=0.9".parse().expect("value"));
    headers.insert(
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
            .parse()
            .expect("value"),
    );
    user.set_client_builder(
        reqwest::Client::builder()
            .cookie_store(true)
            .gzip(true)
            .brotli(true)
            .zstd(true)
            .deflate(true)
            .default_headers(headers)
            .timeout(Duration::from_secs(60)),
    )
    .await?;
    let email = format!("desk{k:03}@bench.example");
    let response = user.get_named("/sign-in", "sign-in form").await?;
    let (_, body) = page(user, response, Some("/sign-in")).await?;
    let csrf = csrf_in(&body).unwrap_or_default();
    let response = post(
        user,
        "/sign-in",
        "sign-in",
        &[("email", &email), ("password", PASSWORD), ("csrf_token", &csrf)],
    )
    .await?;
    let (_, body) = page(user, response, Some("/mfa")).await?;
    let code = totp_now();
    let csrf = csrf_in(&body).unwrap_or_default();
    let response =
        post(user, "/mfa/totp", "second factor", &[("code", &code), ("csrf_token", &csrf)]).await?;
    let (mut landed, mut body) = page(user, response, None).await?;
    for _ in 0..3 {
        let csrf = csrf_in(&body).unwrap_or_default();
        let response = if landed == "/consent" {
            let accepted: Vec<String> = ACCEPT.captures_iter(&body).map(|c| c[1].to_owned()).collect();
            let mut form: Vec<(&str, &str)> = accepted.iter().map(|a| ("accept", a.as_str())).collect();
            form.push(("csrf_token", &csrf));
            post(user, "/consent", "consent", &form).await?
        } else if landed == "/contexts" {
            let context = CONTEXT.captures(&body).map(|c| c[1].to_owned()).unwrap_or_default();
            post(user, "/contexts/select", "choose clinic", &[("context", &context), ("csrf_token", &csrf)])
                .await?
        } else {
            break;
        };
        (landed, body) = page(user, response, None).await?;
    }
    let csrf = csrf_in(&body).unwrap_or_default();
    user.set_session_data(Desk { csrf, patients: Vec::new(), step: k });
    Ok(())
}

async fn workspace(user: &mut GooseUser) -> TransactionResult {
    let response = user.get_named("/workspace", "workspace").await?;
    let (_, body) = page(user, response, Some("/workspace")).await?;
    if let (Some(csrf), Some(desk)) = (csrf_in(&body), user.get_session_data_mut::<Desk>()) {
        desk.csrf = csrf;
    }
    Ok(())
}

async fn search(user: &mut GooseUser) -> TransactionResult {
    let (csrf, fragment) = match user.get_session_data_mut::<Desk>() {
        Some(desk) => {
            desk.step += 1;
            (desk.csrf.clone(), FRAGMENTS[desk.step % FRAGMENTS.len()])
        }
        None => return Ok(()),
    };
    let response =
        post(user, "/patients/search", "registry search", &[("q", fragment), ("csrf_token", &csrf)]).await?;
    let (_, body) = page(user, response, Some("/patients")).await?;
    let found: Vec<String> = PATIENT_LINK.captures_iter(&body).map(|c| c[1].to_owned()).collect();
    if let Some(desk) = user.get_session_data_mut::<Desk>()
        && !found.is_empty()
    {
        desk.patients = found;
    }
    Ok(())
}

fn current_patient(user: &GooseUser) -> Option<String> {
    let desk = user.get_session_data::<Desk>()?;
    desk.patients.get(desk.step % desk.patients.len().max(1)).cloned()
}

async fn summary(user: &mut GooseUser) -> TransactionResult {
    if let Some(id) = current_patient(user) {
        let response = user.get_named(&format!("/patients/{id}"), "patient summary").await?;
        page(user, response, Some("/patients/")).await?;
    }
    Ok(())
}

async fn contacts(user: &mut GooseUser) -> TransactionResult {
    if let Some(id) = current_patient(user) {
        let response = user.get_named(&format!("/patients/{id}/contacts"), "patient contacts").await?;
        page(user, response, Some("/patients/")).await?;
    }
    Ok(())
}

async fn appointments(user: &mut GooseUser) -> TransactionResult {
    if let Some(id) = current_patient(user) {
        let response =
            user.get_named(&format!("/patients/{id}/appointments"), "patient appointments").await?;
        page(user, response, Some("/patients/")).await?;
    }
    Ok(())
}

async fn schedule(user: &mut GooseUser) -> TransactionResult {
    let response = user.get_named("/schedule", "day schedule").await?;
    page(user, response, Some("/schedule")).await?;
    Ok(())
}

fn think_time() -> (Duration, Duration) {
    let spec = std::env::var("LOCKDEV_THINK_MS").unwrap_or_else(|_| "2000-8000".into());
    let (low, high) = spec.split_once('-').unwrap_or(("2000", "8000"));
    let parse = |s: &str, default| s.trim().parse::<u64>().unwrap_or(default);
    (Duration::from_millis(parse(low, 2000)), Duration::from_millis(parse(high, 8000)))
}

/// p50 and p99 (milliseconds) over a set of microsecond buckets.
fn percentiles(buckets: &[(u64, usize)]) -> (f64, f64, usize) {
    let mut sorted = buckets.to_vec();
    sorted.sort_unstable();
    let total: usize = sorted.iter().map(|(_, n)| n).sum();
    let at = |fraction: f64| {
        let rank = ((total as f64) * fraction).ceil().max(1.0) as usize;
        let mut seen = 0;
        for (time, n) in &sorted {
            seen += n;
            if seen >= rank {
                return *time as f64 / 1000.0;
            }
        }
        0.0
    };
    (at(0.50), at(0.99), total)
}

fn summarize(metrics: &GooseMetrics) -> serde_json::Value {
    let mut all = Vec::new();
    let mut routes = serde_json::Map::new();
    let (mut requests, mut errors) = (0usize, 0usize);
    for (name, aggregate) in &metrics.requests {
        let buckets: Vec<(u64, usize)> = aggregate.raw_data.times_us.iter().map(|(t, n)| (*t, *n)).collect();
        let (p50, p99, count) = percentiles(&buckets);
        requests += aggregate.success_count + aggregate.fail_count;
        errors += aggregate.fail_count;
        routes.insert(
            name.clone(),
            serde_json::json!({ "requests": count, "errors": aggregate.fail_count, "p50_ms": p50, "p99_ms": p99 }),
        );
        all.extend(buckets);
    }
    let (p50, p99, _) = percentiles(&all);
    let error_kinds: Vec<String> =
        metrics.errors.values().map(|e| format!("{} x{}", e.error, e.occurrences)).collect();
    serde_json::json!({
        "requests": requests, "errors": errors, "p50_ms": p50, "p99_ms": p99,
        "routes": routes, "error_kinds": error_kinds,
        "seconds": metrics.duration,
    })
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    let (low, high) = think_time();
    let day = scenario!("FrontDeskDay")
        .set_wait_time(low, high)?
        .register_transaction(transaction!(sign_in).set_on_start())
        .register_transaction(transaction!(workspace))
        .register_transaction(transaction!(search))
        .register_transaction(transaction!(summary))
        .register_transaction(transaction!(contacts))
        .register_transaction(transaction!(appointments))
        .register_transaction(transaction!(schedule));
    let metrics = GooseAttack::initialize()?.register_scenario(day).execute().await?;
    println!("{}", summarize(&metrics));
    Ok(())
}
