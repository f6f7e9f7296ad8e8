//! `/dev/outbox`: the texts and calls the development channels kept, so a developer (and
//! the demo) can see what the gate let through. 404 unless the server runs in
//! development with a development channel.

use askama::Template;
use axum::extract::State;

use crate::config::{Environment, TextConfig, VoiceConfig};
use crate::db::tenant::{SystemContext, begin_system};
use crate::web::{AppError, AppResult, AppState, Page};

pub struct OutboxItem {
    pub channel: &'static str,
    pub to: String,
    pub body: String,
    pub sent: String,
}

#[derive(Template)]
#[template(path = "dev/outbox.html")]
pub struct OutboxPage {
    pub items: Vec<OutboxItem>,
}

pub async fn page(State(state): State<AppState>) -> AppResult<Page<OutboxPage>> {
    let dev_channels = matches!(state.config.messaging.text, TextConfig::DevOutbox)
        || matches!(state.config.messaging.voice, VoiceConfig::DevOutbox);
    if state.config.environment != Environment::Development || !dev_channels {
        return Err(AppError::NotFound);
    }
    let mut tx = begin_system(&state.db, &SystemContext::default()).await?;
    let rows = sqlx::query!(
        "SELECT channel, to_number, body, created_at FROM dev_phone_outbox ORDER BY created_at DESC, id DESC LIMIT 100"
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Page(OutboxPage {
        items: rows
            .into_iter()
            .map(|r| OutboxItem {
                channel: if r.channel == "sms" { "Text" } else { "Call" },
                to: r.to_number,
                body: r.body,
                sent: r.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            })
            .collect(),
    }))
}
