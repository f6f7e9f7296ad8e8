//! E-mail delivery: a [`Mailer`] with three implementations chosen by configuration.
//!
//! - [`DevMailbox`]: the local default, development only. Messages are stored in the
//!   database and shown at `/dev/mailbox`; nothing leaves the machine.
//! - [`SmtpMailer`]: any SMTP relay, through lettre (TLS via rustls for `smtps://`).
//! - [`SesMailer`]: Amazon SES v2 through the AWS SDK; credentials from the usual AWS
//!   chain (environment, profile, instance role). Tested against a local emulator that
//!   speaks the SES v2 protocol.
//!
//! Account e-mail (invitations, password reset, verification, security notices) goes to
//! the address a person signs in with, and never carries patient data.

use std::sync::Arc;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use sqlx::PgPool;

use super::ProviderError;
use crate::config::{MailConfig, MailerConfig};
use crate::db::tenant::{SystemContext, begin_system};

/// One message, already rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the address could not be used")]
    Address,
    #[error("the message could not be built")]
    Build,
    /// The relay or service refused or failed: its code only (see [`ProviderError`]).
    #[error("delivery failed: {0}")]
    Delivery(ProviderError),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

pub fn from_config(config: &MailConfig, pool: PgPool) -> Result<Arc<dyn Mailer>, MailError> {
    Ok(match &config.mailer {
        MailerConfig::DevMailbox => Arc::new(DevMailbox { pool }),
        MailerConfig::Smtp { url } => Arc::new(SmtpMailer::new(url.expose(), &config.from)?),
        MailerConfig::Ses { region, endpoint } => {
            Arc::new(SesMailer::new(region, endpoint.as_ref().map(url::Url::as_str), &config.from))
        }
    })
}

/// Development only: messages land in the `dev_mailbox` table.
pub(crate) struct DevMailbox {
    pool: PgPool,
}

#[async_trait]
impl Mailer for DevMailbox {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let result = async {
            let mut tx = begin_system(&self.pool, &SystemContext::default()).await?;
            sqlx::query!(
                "INSERT INTO dev_mailbox (to_address, subject, text_body, html_body) VALUES ($1, $2, $3, $4)",
                email.to,
                email.subject,
                email.text,
                email.html
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await;
        result.map_err(|e| {
            MailError::Delivery(ProviderError::new("dev_mailbox", Some(crate::db::errors::sqlx_variant(&e))))
        })
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| MailError::Address)?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Self { transport, from: from.parse().map_err(|_| MailError::Address)? })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(email.to.parse().map_err(|_| MailError::Address)?)
            .subject(&email.subject)
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .map_err(|_| MailError::Build)?;
        self.transport.send(message).await.map_err(|e| {
            let kind = if e.is_permanent() { "smtp_refused" } else { "smtp_failed" };
            MailError::Delivery(ProviderError::new(kind, e.status().map(|code| code.to_string()).as_deref()))
        })?;
        Ok(())
    }
}

/// Amazon SES v2. The SDK client is made on first use: loading AWS credentials is async
/// and may reach the instance metadata service, which start-up should not wait for.
pub struct SesMailer {
    region: String,
    endpoint: Option<String>,
    from: String,
    client: tokio::sync::OnceCell<aws_sdk_sesv2::Client>,
}

impl SesMailer {
    pub fn new(region: &str, endpoint: Option<&str>, from: &str) -> Self {
        Self {
            region: region.to_owned(),
            endpoint: endpoint.map(str::to_owned),
            from: from.to_owned(),
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_sesv2::Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(self.region.clone()));
                if let Some(endpoint) = &self.endpoint {
                    loader = loader.endpoint_url(endpoint);
                }
                aws_sdk_sesv2::Client::new(&loader.load().await)
            })
            .await
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};
        let utf8 =
            |data: &str| Content::builder().data(data).charset("UTF-8").build().map_err(|_| MailError::Build);
        let message = SesMessage::builder()
            .subject(utf8(&email.subject)?)
            .body(Body::builder().text(utf8(&email.text)?).html(utf8(&email.html)?).build())
            .build();
        self.client()
            .await
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                MailError::Delivery(ProviderError::new(
                    "ses_refused",
                    aws_sdk_sesv2::error::ProvideErrorMetadata::code(&e),
                ))
            })?;
        Ok(())
    }
}
