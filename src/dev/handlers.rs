use axum::extract::State;

use super::repo;
use super::views::{Kept, KeptPage};
use crate::config::{MailerConfig, TextConfig, VoiceConfig};
use crate::web::{AppError, AppResult, AppState, Page, SystemTx};

fn sent(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(super) async fn mailbox(State(state): State<AppState>, mut tx: SystemTx) -> AppResult<Page<KeptPage>> {
    if !matches!(state.config.mail.mailer, MailerConfig::DevMailbox) {
        return Err(AppError::NotFound);
    }
    let rows = repo::mail(tx.conn().await?).await?;
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

pub(super) async fn outbox(State(state): State<AppState>, mut tx: SystemTx) -> AppResult<Page<KeptPage>> {
    let dev_channels = matches!(state.config.messaging.text, TextConfig::DevOutbox)
        || matches!(state.config.messaging.voice, VoiceConfig::DevOutbox);
    if !dev_channels {
        return Err(AppError::NotFound);
    }
    let rows = repo::texts_and_calls(tx.conn().await?).await?;
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
