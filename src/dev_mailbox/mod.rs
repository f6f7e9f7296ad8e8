//! `/dev/mailbox`: the e-mail the development mailer kept, so a developer (and the
//! browser tests) can open invitation and reset links. It answers 404 unless the server
//! runs in development with the development mailer.

use askama::Template;
use axum::extract::State;

use crate::config::{Environment, MailerConfig};
use crate::db::tenant::{SystemContext, begin_system};
use crate::web::{Access, AppError, AppResult, AppState, Page, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new().get("/dev/mailbox", Access::Public, Phi::None, mailbox)
}

pub struct Message {
    pub to: String,
    pub subject: String,
    pub sent: String,
    pub text: String,
    pub links: Vec<String>,
}

#[derive(Template)]
#[template(path = "dev/mailbox.html")]
pub struct MailboxPage {
    pub messages: Vec<Message>,
}

async fn mailbox(State(state): State<AppState>) -> AppResult<Page<MailboxPage>> {
    if state.config.environment != Environment::Development
        || !matches!(state.config.mail.mailer, MailerConfig::DevMailbox)
    {
        return Err(AppError::NotFound);
    }
    let mut tx = begin_system(&state.db, &SystemContext::default()).await?;
    let rows = sqlx::query!(
        "SELECT to_address, subject, text_body, created_at FROM dev_mailbox ORDER BY created_at DESC, id DESC LIMIT 50"
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Page(MailboxPage {
        messages: rows
            .into_iter()
            .map(|r| Message {
                links: r
                    .text_body
                    .split_whitespace()
                    .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
                    .map(str::to_owned)
                    .collect(),
                to: r.to_address,
                subject: r.subject,
                sent: r.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                text: r.text_body,
            })
            .collect(),
    }))
}
