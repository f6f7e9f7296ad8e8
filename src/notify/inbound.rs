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

use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use sqlx::PgConnection;

use super::{content, destination_hash};
use crate::audit::{self, Action, AuditEvent};
use crate::db::tenant::SystemContext;

/// How old a message may be when it arrives; SNS retries for about an hour at most, and
/// an older message is a replay.
pub(crate) const MAX_AGE: TimeDelta = TimeDelta::hours(1);

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
    pub(crate) fn string_to_sign(&self) -> String {
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
    /// Whether signature version 1 (RSA with SHA-1) is accepted. SNS signs with SHA-1
    /// unless the topic asks for version 2; our topic does (infra), so SHA-1 is refused
    /// unless an operator whose topic cannot be changed allows it.
    allow_sha1: bool,
    fetched: Mutex<HashMap<String, Vec<u8>>>,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Rejected(&'static str);

impl SnsVerifier {
    /// `pinned`: a PEM certificate to trust instead of fetching.
    pub fn new(pinned: Option<Vec<u8>>, allow_sha1: bool) -> Self {
        Self {
            pinned,
            allow_sha1,
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
    pub(crate) async fn confirm_subscription(&self, url: &str) {
        if url.starts_with("https://sns.") {
            let _ = self.http.get(url).send().await;
        }
    }

    /// Checks the signature, the signature version and the message's age at `now`.
    pub async fn verify(&self, envelope: &SnsEnvelope, now: DateTime<Utc>) -> Result<(), Rejected> {
        let algorithm: &dyn ring::signature::VerificationAlgorithm = match envelope.signature_version.as_str()
        {
            "1" if self.allow_sha1 => &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "1" => return Err(Rejected("SHA-1 signatures are not accepted")),
            "2" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            _ => return Err(Rejected("unknown signature version")),
        };
        let sent = DateTime::parse_from_rfc3339(&envelope.timestamp)
            .map_err(|_| Rejected("bad timestamp"))?
            .with_timezone(&Utc);
        if now - sent > MAX_AGE || sent - now > TimeDelta::minutes(5) {
            return Err(Rejected("the message is too old (or from the future)"));
        }
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

/// What an inbound text changed, for the one confirmation the carrier rules require.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutChange {
    pub phone: String,
    pub opted_out: bool,
}

/// Records what an inbound text asks (in the caller's system transaction): a STOP or
/// START keyword changes the number's opt-out and is audited. Returns the change, if any,
/// so the confirmation is sent once the transaction has committed.
pub(crate) async fn handle_text(
    conn: &mut PgConnection,
    message: &str,
    now: DateTime<Utc>,
) -> Result<Option<OptOutChange>, sqlx::Error> {
    let Ok(text) = serde_json::from_str::<InboundText>(message) else {
        return Ok(None); // not an inbound text: nothing to do
    };
    let Some((keyword, word)) = keyword(&text.message_body) else {
        return Ok(None); // replies are not read by anyone: the texts say to call
    };
    let Ok(phone) = crate::contact_info::normalize_phone(&text.origination_number) else {
        return Ok(None);
    };
    let opted_out = keyword == Keyword::OptOut;
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
    .fetch_optional(&mut *conn)
    .await?
    .is_some();
    if !changed {
        return Ok(None);
    }
    let event = AuditEvent::new(Action::TextOptOutChanged, audit::Outcome::Success).details(
        serde_json::json!({ "opted_out": opted_out, "keyword": word, "destination_hash": destination_hash(&phone) }),
    );
    audit::record_platform(conn, &SystemContext::default(), &event).await?;
    Ok(Some(OptOutChange { phone, opted_out }))
}

/// Whether SNS delivered this message before (SNS delivers at least once, and a captured
/// message could be sent again): the first delivery is recorded in the caller's
/// transaction, a repeat is reported.
pub(crate) async fn first_delivery(
    conn: &mut PgConnection,
    envelope: &SnsEnvelope,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let message_id: String = envelope.message_id.chars().take(100).collect();
    let inserted = sqlx::query!(
        "INSERT INTO sns_deliveries (message_id, received_at) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING",
        message_id,
        now
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Forgets deliveries older than a day: a message that old is refused for its age, so
/// its id need not be remembered to refuse it again.
pub(crate) struct ForgetDeliveries;

#[async_trait::async_trait]
impl crate::jobs::JobKind for ForgetDeliveries {
    fn kind(&self) -> &'static str {
        "sns.forget_deliveries"
    }

    fn every(&self) -> Option<TimeDelta> {
        Some(TimeDelta::hours(6))
    }

    async fn run(
        &self,
        _: &crate::jobs::Job,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        context: &crate::jobs::JobContext,
    ) -> Result<crate::jobs::Outcome, crate::jobs::JobError> {
        sqlx::query!(
            "DELETE FROM sns_deliveries WHERE received_at < $1",
            context.clock.now() - TimeDelta::days(1)
        )
        .execute(&mut **tx)
        .await?;
        Ok(crate::jobs::Outcome::Done)
    }
}

/// Sends the confirmation of a keyword. A failure is logged by kind only (a provider's
/// message may quote the number), and the change stands.
pub async fn confirm(notifier: &super::Notifier, change: &OptOutChange) {
    if let Err(error) =
        notifier.texts.send_text(&change.phone, content::keyword_confirmation(change.opted_out)).await
    {
        tracing::warn!(error.kind = error.kind(), "keyword confirmation not sent");
    }
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
