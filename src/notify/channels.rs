//! The text and voice channels, each a small trait with a local default (the development
//! outbox, readable at `/dev/outbox`) and a production adapter on the AWS SDK. E-mail is
//! [`crate::integrations::mail::Mailer`].

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::PgPool;

use crate::config::{TextConfig, VoiceConfig};
use crate::db::tenant::{SystemContext, begin_system};

pub use crate::integrations::ProviderError as ChannelError;

#[async_trait]
pub trait TextSender: Send + Sync {
    /// Sends `body` to `to` (E.164); returns the provider's message id.
    async fn send_text(&self, to: &str, body: &str) -> Result<String, ChannelError>;
}

#[async_trait]
pub trait VoiceCaller: Send + Sync {
    /// Calls `to` (E.164) and reads `message`; returns the provider's contact id.
    async fn call(&self, to: &str, message: &str) -> Result<String, ChannelError>;
}

pub fn text_sender(config: &TextConfig, pool: PgPool) -> Arc<dyn TextSender> {
    match config {
        TextConfig::DevOutbox => Arc::new(DevPhoneOutbox { pool }),
        TextConfig::EndUserMessaging { region, endpoint, origination } => Arc::new(EndUserMessagingSms {
            client: Lazy::new(region, endpoint.as_ref()),
            origination: origination.clone(),
        }),
    }
}

pub fn voice_caller(config: &VoiceConfig, pool: PgPool) -> Arc<dyn VoiceCaller> {
    match config {
        VoiceConfig::DevOutbox => Arc::new(DevPhoneOutbox { pool }),
        VoiceConfig::Connect { region, endpoint, instance_id, contact_flow_id, source_phone } => {
            Arc::new(ConnectVoice {
                client: Lazy::new(region, endpoint.as_ref()),
                instance_id: instance_id.clone(),
                contact_flow_id: contact_flow_id.clone(),
                source_phone: source_phone.clone(),
            })
        }
    }
}

/// Development only: texts and calls land in `dev_phone_outbox`.
pub(crate) struct DevPhoneOutbox {
    pool: PgPool,
}

impl DevPhoneOutbox {
    async fn store(&self, channel: &str, to: &str, body: &str) -> Result<String, ChannelError> {
        let stored = async {
            let mut tx = begin_system(&self.pool, &SystemContext::default()).await?;
            let id: uuid::Uuid = sqlx::query_scalar!(
                "INSERT INTO dev_phone_outbox (channel, to_number, body) VALUES ($1, $2, $3) RETURNING id",
                channel,
                to,
                body
            )
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(id)
        }
        .await;
        stored
            .map(|id| format!("dev-{}", ulid::Ulid::from(id)))
            .map_err(|e| ChannelError::new("dev_outbox", Some(crate::db::errors::sqlx_variant(&e))))
    }
}

#[async_trait]
impl TextSender for DevPhoneOutbox {
    async fn send_text(&self, to: &str, body: &str) -> Result<String, ChannelError> {
        self.store("sms", to, body).await
    }
}

#[async_trait]
impl VoiceCaller for DevPhoneOutbox {
    async fn call(&self, to: &str, message: &str) -> Result<String, ChannelError> {
        self.store("voice", to, message).await
    }
}

/// An AWS SDK client made on first use (loading credentials is async and may reach the
/// instance metadata service, which start-up should not wait for).
struct Lazy<C> {
    region: String,
    endpoint: Option<String>,
    client: tokio::sync::OnceCell<C>,
}

impl<C> Lazy<C> {
    fn new(region: &str, endpoint: Option<&url::Url>) -> Self {
        Self {
            region: region.to_owned(),
            endpoint: endpoint.map(|u| u.as_str().trim_end_matches('/').to_owned()),
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn get(&self, make: impl FnOnce(&aws_config::SdkConfig) -> C) -> &C {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(self.region.clone()));
                if let Some(endpoint) = &self.endpoint {
                    loader = loader.endpoint_url(endpoint);
                }
                make(&loader.load().await)
            })
            .await
    }
}

/// AWS End User Messaging SMS (the `pinpoint-sms-voice-v2` API).
pub(crate) struct EndUserMessagingSms {
    client: Lazy<aws_sdk_pinpointsmsvoicev2::Client>,
    origination: String,
}

#[async_trait]
impl TextSender for EndUserMessagingSms {
    async fn send_text(&self, to: &str, body: &str) -> Result<String, ChannelError> {
        let client = self.client.get(aws_sdk_pinpointsmsvoicev2::Client::new).await;
        let sent = client
            .send_text_message()
            .destination_phone_number(to)
            .origination_identity(&self.origination)
            .message_body(body)
            .message_type(aws_sdk_pinpointsmsvoicev2::types::MessageType::Transactional)
            .send()
            .await
            .map_err(|e| {
                ChannelError::new(
                    "sms_refused",
                    aws_sdk_pinpointsmsvoicev2::error::ProvideErrorMetadata::code(&e),
                )
            })?;
        Ok(sent.message_id().unwrap_or_default().to_owned())
    }
}

/// Amazon Connect: an outbound call through a contact flow that reads the `message`
/// attribute (and leaves it as a voicemail when a machine answers).
pub(crate) struct ConnectVoice {
    client: Lazy<aws_sdk_connect::Client>,
    instance_id: String,
    contact_flow_id: String,
    source_phone: String,
}

#[async_trait]
impl VoiceCaller for ConnectVoice {
    async fn call(&self, to: &str, message: &str) -> Result<String, ChannelError> {
        let client = self.client.get(aws_sdk_connect::Client::new).await;
        let started = client
            .start_outbound_voice_contact()
            .destination_phone_number(to)
            .instance_id(&self.instance_id)
            .contact_flow_id(&self.contact_flow_id)
            .source_phone_number(&self.source_phone)
            .attributes("message", message)
            .send()
            .await
            .map_err(|e| {
                ChannelError::new("call_refused", aws_sdk_connect::error::ProvideErrorMetadata::code(&e))
            })?;
        Ok(started.contact_id().unwrap_or_default().to_owned())
    }
}
