//! Inbound texts: AWS End User Messaging publishes replies to an SNS topic, which POSTs
//! them to `/hooks/sms/inbound`. The SNS signature is verified (RSA over the canonical
//! string, with the certificate SNS names, fetched only from an `sns.<region>.amazonaws.com`
//! https address, or a pinned one) and the topic must be ours; anything else is refused.
//!
//! STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE and OPT OUT stop texts to that
//! number at once (the gate reads `sms_opt_outs` at every send); START and UNSTOP resume
//! them. A change is confirmed with one text; a repeated keyword changes nothing and
//! sends nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;

use super::{content, destination_hash};
use crate::audit::{self, Action, AuditEvent};
use crate::db::tenant::{SystemContext, begin_system};
use crate::web::AppState;

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
}

/// The keyword a message body is, if any (case, spacing and punctuation do not matter;
/// a sentence that merely contains "stop" is not a keyword).
pub fn keyword(body: &str) -> Option<(Keyword, String)> {
    let word: String = body
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches(|c: char| c.is_ascii_punctuation())
        .to_ascii_uppercase();
    let kind = match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "REVOKE" | "OPT OUT" | "OPTOUT" => {
            Keyword::OptOut
        }
        "START" | "UNSTOP" => Keyword::OptIn,
        _ => return None,
    };
    Some((kind, word))
}

/// The SNS envelope (only the fields the signature covers).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsEnvelope {
    #[serde(rename = "Type")]
    pub kind: String,
    pub message_id: String,
    pub topic_arn: String,
    pub message: String,
    pub timestamp: String,
    pub subject: Option<String>,
    pub token: Option<String>,
    #[serde(rename = "SubscribeURL")]
    pub subscribe_url: Option<String>,
    pub signature_version: String,
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
}

impl SnsEnvelope {
    /// The canonical string SNS signs: selected fields as `name\nvalue\n`, in this order.
    pub fn string_to_sign(&self) -> String {
        let mut fields: Vec<(&str, &str)> = vec![("Message", &self.message), ("MessageId", &self.message_id)];
        if self.kind == "Notification" {
            if let Some(subject) = &self.subject {
                fields.push(("Subject", subject));
            }
        } else {
            if let Some(url) = &self.subscribe_url {
                fields.push(("SubscribeURL", url));
            }
        }
        fields.push(("Timestamp", &self.timestamp));
        if self.kind != "Notification"
            && let Some(token) = &self.token
        {
            fields.push(("Token", token));
        }
        fields.push(("TopicArn", &self.topic_arn));
        fields.push(("Type", &self.kind));
        fields.iter().map(|(k, v)| format!("{k}\n{v}\n")).collect()
    }
}

/// The inbound text inside a notification.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InboundText {
    origination_number: String,
    message_body: String,
}

/// Checks SNS signatures; keeps fetched certificates by address.
pub struct SnsVerifier {
    pinned: Option<Vec<u8>>,
    fetched: Mutex<HashMap<String, Vec<u8>>>,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(&'static str);

impl SnsVerifier {
    /// `pinned`: a PEM certificate to trust instead of fetching.
    pub fn new(pinned: Option<Vec<u8>>) -> Self {
        Self {
            pinned,
            fetched: Mutex::new(HashMap::new()),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    async fn certificate(&self, url: &str) -> Result<Vec<u8>, Rejected> {
        if let Some(pem) = &self.pinned {
            return Ok(pem.clone());
        }
        let parsed = url::Url::parse(url).map_err(|_| Rejected("bad certificate address"))?;
        let host = parsed.host_str().unwrap_or_default();
        let aws_host = host.starts_with("sns.")
            && host.ends_with(".amazonaws.com")
            && host.split('.').count() == 4
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if parsed.scheme() != "https" || !aws_host || !parsed.path().ends_with(".pem") {
            return Err(Rejected("the certificate is not an SNS certificate"));
        }
        if let Some(pem) = self.fetched.lock().map_err(|_| Rejected("cache"))?.get(url) {
            return Ok(pem.clone());
        }
        let pem = self
            .http
            .get(parsed)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|_| Rejected("the certificate could not be fetched"))?
            .bytes()
            .await
            .map_err(|_| Rejected("the certificate could not be read"))?
            .to_vec();
        self.fetched.lock().map_err(|_| Rejected("cache"))?.insert(url.to_owned(), pem.clone());
        Ok(pem)
    }

    /// Confirms a verified subscription by visiting the address SNS gave, with the same
    /// short time limit as certificate fetches.
    pub async fn confirm_subscription(&self, url: &str) {
        if url.starts_with("https://sns.") {
            let _ = self.http.get(url).send().await;
        }
    }

    pub async fn verify(&self, envelope: &SnsEnvelope) -> Result<(), Rejected> {
        let algorithm: &dyn ring::signature::VerificationAlgorithm = match envelope.signature_version.as_str()
        {
            "1" => &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(Rejected("unknown signature version")),
        };
        let pem = self.certificate(&envelope.signing_cert_url).await?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).map_err(|_| Rejected("bad certificate"))?;
        let certificate = pem.parse_x509().map_err(|_| Rejected("bad certificate"))?;
        let key = certificate.tbs_certificate.subject_pki.subject_public_key.data.to_vec();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(envelope.signature.as_bytes())
            .map_err(|_| Rejected("bad signature encoding"))?;
        ring::signature::UnparsedPublicKey::new(algorithm, key)
            .verify(envelope.string_to_sign().as_bytes(), &signature)
            .map_err(|_| Rejected("bad signature"))
    }
}

/// `POST /hooks/sms/inbound`.
pub async fn receive(State(state): State<AppState>, body: Bytes) -> Response {
    let Some(topic) = state.config.messaging.inbound_topic_arn.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(envelope) = serde_json::from_slice::<SnsEnvelope>(&body) else {
        return (StatusCode::BAD_REQUEST, "not an SNS message").into_response();
    };
    if envelope.topic_arn != topic {
        tracing::warn!(reason = "topic", "inbound text refused");
        return (StatusCode::FORBIDDEN, "unknown topic").into_response();
    }
    if let Err(rejected) = state.sns.verify(&envelope).await {
        tracing::warn!(reason = %rejected, "inbound text refused");
        return (StatusCode::FORBIDDEN, "signature refused").into_response();
    }
    match envelope.kind.as_str() {
        "SubscriptionConfirmation" => {
            // The address is covered by the verified signature, so it is SNS's.
            if let Some(url) = envelope.subscribe_url.as_deref() {
                state.sns.confirm_subscription(url).await;
            }
            StatusCode::OK.into_response()
        }
        "Notification" => match handle_text(&state, &envelope.message).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(error) => {
                tracing::warn!(
                    error.variant = crate::web::error::sqlx_variant(&error),
                    "inbound text not handled"
                );
                // SNS retries on a server error.
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        },
        _ => StatusCode::OK.into_response(),
    }
}

async fn handle_text(state: &AppState, message: &str) -> Result<(), sqlx::Error> {
    let Ok(text) = serde_json::from_str::<InboundText>(message) else {
        return Ok(()); // not an inbound text: nothing to do
    };
    let Some((keyword, word)) = keyword(&text.message_body) else {
        return Ok(()); // replies are not read by anyone: the texts say to call
    };
    let Ok(phone) = crate::contacts::domain::normalize_phone(&text.origination_number) else {
        return Ok(());
    };
    let opted_out = keyword == Keyword::OptOut;
    let now = state.clock.now();
    let mut tx = begin_system(&state.db, &SystemContext::default()).await?;
    let changed = sqlx::query_scalar!(
        r#"INSERT INTO sms_opt_outs (phone, opted_out, keyword, changed_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (phone) DO UPDATE SET opted_out = EXCLUDED.opted_out, keyword = EXCLUDED.keyword,
                  changed_at = EXCLUDED.changed_at
            WHERE sms_opt_outs.opted_out IS DISTINCT FROM EXCLUDED.opted_out
           RETURNING true AS "changed!""#,
        phone,
        opted_out,
        word.chars().take(20).collect::<String>(),
        now
    )
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if changed {
        let event = AuditEvent::new(Action::TextOptOutChanged, audit::Outcome::Success).details(
            serde_json::json!({ "opted_out": opted_out, "keyword": word, "destination_hash": destination_hash(&phone) }),
        );
        audit::record_platform(&mut tx, &SystemContext::default(), &event).await?;
    }
    tx.commit().await?;
    if changed {
        // The one required confirmation; a failure to send it is logged, the change stands.
        if let Err(error) =
            state.notifier.texts.send_text(&phone, content::keyword_confirmation(opted_out)).await
        {
            tracing::warn!(error = %error, "keyword confirmation not sent");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_whole_messages_in_any_case() {
        for stop in [
            "STOP",
            "stop",
            " Stop. ",
            "StopAll",
            "unsubscribe",
            "cancel",
            "END",
            "quit",
            "Revoke",
            "opt out",
            "OPT  OUT",
        ] {
            assert_eq!(keyword(stop).map(|k| k.0), Some(Keyword::OptOut), "{stop}");
        }
        for start in ["START", "unstop", "Start!"] {
            assert_eq!(keyword(start).map(|k| k.0), Some(Keyword::OptIn), "{start}");
        }
        for other in ["please stop calling my mother", "Yes", "", "STOP IT"] {
            assert_eq!(keyword(other), None, "{other}");
        }
    }
}
