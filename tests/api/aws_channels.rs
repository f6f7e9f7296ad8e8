//! The production text and voice adapters (AWS End User Messaging SMS and Amazon Connect)
//! through the real AWS SDK. The local AWS emulator does not implement these two APIs, so
//! they are pointed at a local endpoint that records each request, recomputes its SigV4
//! signature with the test credentials and refuses it unless the signature matches, then
//! answers as the service would.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use chrono::TimeDelta;
use hmac::{Hmac, Mac as _};
use lockdev::clock::Clock as _;
use lockdev::config::{TextConfig, VoiceConfig};
use lockdev::db::ids::PatientId;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::helpers::spawn_app;

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    target: Option<String>,
    service: String,
    body: Value,
}

#[derive(Clone, Default)]
struct FakeAws {
    requests: Arc<Mutex<Vec<Recorded>>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Recomputes the SigV4 signature of a request; returns the signed service name.
fn verify_sigv4(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").map_err(|_| "no test secret")?;
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or("unsigned")?;
    let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 ").ok_or("not SigV4")?;
    let part = |name: &str| {
        rest.split(", ")
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
            .ok_or(format!("no {name}"))
    };
    let (credential, signed, signature) = (part("Credential")?, part("SignedHeaders")?, part("Signature")?);
    let scope: Vec<&str> = credential.split('/').collect();
    let [_, date, region, service, "aws4_request"] = scope[..] else {
        return Err(format!("bad scope {credential}"));
    };
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok()).ok_or("no x-amz-date")?;
    let canonical_headers: String = signed
        .split(';')
        .map(|name| {
            let value = headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().trim();
            format!("{name}:{value}\n")
        })
        .collect();
    let payload_hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| hex(&Sha256::digest(body)), str::to_owned);
    let canonical = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{signed}\n{payload_hash}",
        uri.path(),
        uri.query().unwrap_or_default()
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date);
    for step in [region, service, "aws4_request"] {
        key = hmac(&key, step);
    }
    if hex(&hmac(&key, &to_sign)) == signature {
        Ok(service.to_owned())
    } else {
        Err("signature mismatch".into())
    }
}

impl FakeAws {
    async fn start(&self) -> String {
        let requests = self.requests.clone();
        let app =
            axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let requests = requests.clone();
                async move {
                    let service = match verify_sigv4(&method, &uri, &headers, &body) {
                        Ok(service) => service,
                        Err(problem) => {
                            return (StatusCode::FORBIDDEN, json!({ "message": problem }).to_string());
                        }
                    };
                    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    requests.lock().expect("log").push(Recorded {
                        method: method.to_string(),
                        path: uri.path().to_owned(),
                        target: target.clone(),
                        service,
                        body: parsed,
                    });
                    let answer = if target.as_deref() == Some("PinpointSMSVoiceV2.SendTextMessage") {
                        json!({ "MessageId": "fake-message-1" })
                    } else {
                        json!({ "ContactId": "fake-contact-1" })
                    };
                    (StatusCode::OK, answer.to_string())
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("log").clone()
    }
}

fn unused_pool() -> sqlx::PgPool {
    sqlx::PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").expect("lazy pool")
}

#[tokio::test]
async fn texts_go_through_end_user_messaging_and_calls_through_connect_signed_with_sigv4() {
    lockdev::integrations::install_tls_provider();
    let fake = FakeAws::default();
    let endpoint: url::Url = fake.start().await.parse().expect("url");
    let texts = lockdev::notify::channels::text_sender(
        &TextConfig::EndUserMessaging {
            region: "us-east-1".into(),
            endpoint: Some(endpoint.clone()),
            origination: "+16175550999".into(),
        },
        unused_pool(),
    );
    let id = texts.send_text("+16175550123", "Reminder: you have an appointment.").await.expect("sent");
    assert_eq!(id, "fake-message-1");
    let voice = lockdev::notify::channels::voice_caller(
        &VoiceConfig::Connect {
            region: "us-east-1".into(),
            endpoint: Some(endpoint),
            instance_id: "11111111-2222-3333-4444-555555555555".into(),
            contact_flow_id: "66666666-7777-8888-9999-000000000000".into(),
            source_phone: "+16175550998".into(),
        },
        unused_pool(),
    );
    let contact = voice.call("+16175550124", "Hello. This is an automated reminder.").await.expect("called");
    assert_eq!(contact, "fake-contact-1");

    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let sms = &requests[0];
    assert_eq!(
        (sms.method.as_str(), sms.target.as_deref()),
        ("POST", Some("PinpointSMSVoiceV2.SendTextMessage"))
    );
    assert_eq!(sms.service, "sms-voice");
    assert_eq!(sms.body["DestinationPhoneNumber"], "+16175550123");
    assert_eq!(sms.body["OriginationIdentity"], "+16175550999");
    assert_eq!(sms.body["MessageType"], "TRANSACTIONAL");
    let call = &requests[1];
    assert_eq!((call.method.as_str(), call.path.as_str()), ("PUT", "/contact/outbound-voice"));
    assert_eq!(call.service, "connect");
    assert_eq!(call.body["DestinationPhoneNumber"], "+16175550124");
    assert_eq!(call.body["SourcePhoneNumber"], "+16175550998");
    assert_eq!(call.body["Attributes"]["message"], "Hello. This is an automated reminder.");
}

#[tokio::test]
async fn a_request_with_a_bad_signature_is_refused_by_the_checking_endpoint() {
    // The checker is only worth something if it refuses: sign with another secret.
    lockdev::integrations::install_tls_provider();
    let fake = FakeAws::default();
    let endpoint = fake.start().await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_connect::config::Credentials::new(
            "testing",
            "not-the-secret",
            None,
            None,
            "test",
        ))
        .load()
        .await;
    let refused = aws_sdk_pinpointsmsvoicev2::Client::new(&config)
        .send_text_message()
        .destination_phone_number("+16175550123")
        .message_body("x")
        .send()
        .await;
    assert!(refused.is_err());
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_app_sends_a_reminder_through_the_production_text_adapter_when_configured() {
    let fake = FakeAws::default();
    let endpoint = fake.start().await;
    let app = spawn_app()
        .env("LOCKDEV_SMS", "aws")
        .env("LOCKDEV_AWS_REGION", "us-east-1")
        .env("LOCKDEV_SMS_ENDPOINT", &endpoint)
        .env("LOCKDEV_SMS_ORIGINATION", "+16175550999")
        .spawn()
        .await;
    let owner = app.database().owner_pool().await;
    let tenants = crate::fixtures::two_tenants(&owner, 1).await;
    let org = tenants.a.org;
    let patient: PatientId = tenants.a.patients[0];
    let mut su = app.database().superuser().await;
    // The fixture's mobile number, now safe for texts, with the patient's consent.
    let user = app.person("texted@patients.example", "a long enough passphrase").await;
    app.link_patient(org, patient, &user).await;
    sqlx::query(
        "UPDATE organizations SET contact_window_start = '00:00', contact_window_end = '23:59' WHERE id = $1",
    )
    .bind(org)
    .execute(&mut su)
    .await
    .expect("window");
    sqlx::query(
        "INSERT INTO consent_documents (organization_id, kind, version, title, body, effective_at)
         VALUES ($1, 'sms', '1', 'Texts', 'Texts.', now() - interval '1 day')",
    )
    .bind(org)
    .execute(&mut su)
    .await
    .expect("terms");
    sqlx::query("UPDATE contact_methods SET is_safe_for_sms = true WHERE patient_id = $1")
        .bind(patient)
        .execute(&mut su)
        .await
        .expect("flag");
    sqlx::query(
        "INSERT INTO consents (organization_id, user_id, document_id, patient_id)
         SELECT $1, $2, id, $3 FROM consent_documents WHERE organization_id = $1 AND kind = 'sms'",
    )
    .bind(org)
    .bind(user.id)
    .bind(patient)
    .execute(&mut su)
    .await
    .expect("consent");
    let kind: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO appointment_types (organization_id, name, duration_minutes) VALUES ($1, 'Visit', 30) RETURNING id",
    )
    .bind(org)
    .fetch_one(&mut su)
    .await
    .expect("type");
    sqlx::query(
        "INSERT INTO appointments (organization_id, patient_id, provider_id, appointment_type_id, starts_at, ends_at)
         VALUES ($1, $2, $3, $4, $5, $5 + interval '30 minutes')",
    )
    .bind(org)
    .bind(patient)
    .bind(tenants.a.provider)
    .bind(kind)
    .bind(app.clock.now() + TimeDelta::hours(6))
    .execute(&mut su)
    .await
    .expect("appointment");
    let mut tx = lockdev::db::tenant::begin_system(&app.pool, &Default::default()).await.expect("tx");
    lockdev::jobs::enqueue(
        &mut tx,
        &lockdev::jobs::NewJob::new("reminders.plan", json!({})).for_organization(org),
        app.clock.now(),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    app.run_jobs().await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].body["DestinationPhoneNumber"], "+16175550100");
    assert!(requests[0].body["MessageBody"].as_str().expect("body").starts_with("Reminder:"));
    let provider_id: Option<String> = sqlx::query_scalar("SELECT provider_message_id FROM notifications")
        .fetch_one(&mut su)
        .await
        .expect("row");
    assert_eq!(provider_id.as_deref(), Some("fake-message-1"));
    let outbox: i64 =
        sqlx::query_scalar("SELECT count(*) FROM dev_phone_outbox").fetch_one(&mut su).await.expect("n");
    assert_eq!(outbox, 0, "nothing in the development outbox");
}
