//! Development pages: what the development channels kept instead of sending it, so a
//! developer (and the browser tests) can read the mail and open its links, and see the
//! texts and calls the contact gate let through. Mounted only in development (the
//! composition root), and each page answers 404 unless its channel is the development one.

use askama::Template;
use axum::extract::State;

use crate::config::{MailerConfig, TextConfig, VoiceConfig};
use crate::web::{Access, AppError, AppResult, AppState, Page, Phi, Routes, SystemTx};

pub fn routes() -> Routes {
    Routes::new().get("/dev/mailbox", Access::Public, Phi::None, mailbox).get(
        "/dev/outbox",
        Access::Public,
        Phi::None,
        outbox,
    )
}

/// One kept message.
pub(crate) struct Kept {
    pub heading: String,
    pub meta: String,
    pub body: String,
    pub links: Vec<String>,
}

/// The list of what a development channel kept.
#[derive(Template)]
#[template(path = "dev/kept.html")]
pub(crate) struct KeptPage {
    pub title: &'static str,
    pub explanation: &'static str,
    pub items: Vec<Kept>,
}

fn sent(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

async fn mailbox(State(state): State<AppState>, mut tx: SystemTx) -> AppResult<Page<KeptPage>> {
    if !matches!(state.config.mail.mailer, MailerConfig::DevMailbox) {
        return Err(AppError::NotFound);
    }
    let rows = sqlx::query!(
        "SELECT to_address, subject, text_body, created_at FROM dev_mailbox ORDER BY created_at DESC, id DESC LIMIT 50"
    )
    .fetch_all(tx.conn().await?)
    .await?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(|r| Kept {
            links: r
                .text_body
                .split_whitespace()
                .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
                .map(str::to_owned)
                .collect(),
            heading: r.subject,
            meta: format!("To {} · {}", r.to_address, sent(r.created_at)),
            body: r.text_body,
        })
        .collect();
    Ok(Page(KeptPage {
        title: "Development mailbox",
        explanation: "e-mail that would have been sent.",
        items,
    }))
}

async fn outbox(State(state): State<AppState>, mut tx: SystemTx) -> AppResult<Page<KeptPage>> {
    let dev_channels = matches!(state.config.messaging.text, TextConfig::DevOutbox)
        || matches!(state.config.messaging.voice, VoiceConfig::DevOutbox);
    if !dev_channels {
        return Err(AppError::NotFound);
    }
    let rows = sqlx::query!(
        "SELECT channel, to_number, body, created_at FROM dev_phone_outbox ORDER BY created_at DESC, id DESC LIMIT 100"
    )
    .fetch_all(tx.conn().await?)
    .await?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(|r| Kept {
            heading: format!("{} to {}", if r.channel == "sms" { "Text" } else { "Call" }, r.to_number),
            meta: sent(r.created_at),
            body: r.body,
            links: Vec::new(),
        })
        .collect();
    Ok(Page(KeptPage {
        title: "Development outbox",
        explanation: "the texts and calls that would have gone out, after the contact gate. Blocked messages are not here; they show on the patient's chart and in the task list.",
        items,
    }))
}
