//! E-mail delivery: a [`Mailer`] with three implementations chosen by configuration.
//!
//! - [`DevMailbox`]: the local default, development only. Messages are stored in the
//!   database and shown at `/dev/mailbox`; nothing leaves the machine.
//! - [`SmtpMailer`]: any SMTP relay, through lettre (TLS via rustls for `smtps://`).
//! - SES v2 arrives with the notification channels, behind the same trait.
//!
//! Account e-mail (invitations, password reset, verification, security notices) goes to
//! the address a person signs in with, and never carries patient data.

use std::sync::Arc;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use sqlx::PgPool;

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
    #[error("delivery failed: {0}")]
    Delivery(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

pub fn from_config(config: &MailConfig, pool: PgPool) -> Result<Arc<dyn Mailer>, MailError> {
    Ok(match &config.mailer {
        MailerConfig::DevMailbox => Arc::new(DevMailbox { pool }),
        MailerConfig::Smtp { url } => Arc::new(SmtpMailer::new(url.expose(), &config.from)?),
        MailerConfig::Ses { .. } => {
            return Err(MailError::Delivery("the SES mailer is not available in this build".into()));
        }
    })
}

/// Development only: messages land in the `dev_mailbox` table.
pub struct DevMailbox {
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
        result.map_err(|e| MailError::Delivery(crate::web::error::sqlx_variant(&e).to_owned()))
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
        self.transport.send(message).await.map_err(|e| MailError::Delivery(e.to_string()))?;
        Ok(())
    }
}
