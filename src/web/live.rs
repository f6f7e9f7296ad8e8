//! Live updates for open pages, over PostgreSQL's LISTEN/NOTIFY. A feature names its own
//! channel (its database trigger NOTIFYs it after every committed change, with a JSON
//! payload that carries the clinic's `organization_id`); each process LISTENs once per
//! channel, from the first page that subscribes, and passes each notification to the pages
//! subscribed in this process, so two processes behind one load balancer both deliver
//! every change. Payloads carry identifiers only: a page that hears of a change fetches
//! what it may show through a normal, authorized request. This module names no channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

use crate::db::ids::OrganizationId;

/// One committed change, as its channel's trigger described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub organization_id: OrganizationId,
    /// The trigger's JSON payload, for the feature to read.
    pub payload: Arc<str>,
}

#[derive(Deserialize)]
struct Envelope {
    organization_id: uuid::Uuid,
}

impl LiveEvent {
    fn parse(payload: &str) -> Option<Self> {
        let envelope: Envelope = serde_json::from_str(payload).ok()?;
        Some(Self {
            organization_id: OrganizationId::from_uuid(envelope.organization_id),
            payload: payload.into(),
        })
    }
}

/// The channels this process listens on, each with its subscribers.
#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<&'static str, broadcast::Sender<LiveEvent>>>,
}

impl Hub {
    /// Subscribes to every change on `channel` in this process (callers filter by clinic).
    /// The database listener for a channel starts with its first subscriber.
    pub(crate) fn subscribe(&self, pool: &PgPool, channel: &'static str) -> broadcast::Receiver<LiveEvent> {
        let mut channels = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        channels
            .entry(channel)
            .or_insert_with(|| {
                let sender = broadcast::channel(256).0;
                tokio::spawn(listen(pool.clone(), channel, sender.clone()));
                sender
            })
            .subscribe()
    }
}

/// Forwards notifications until the process ends, reconnecting after a lost connection.
async fn listen(pool: PgPool, channel: &'static str, sender: broadcast::Sender<LiveEvent>) {
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(channel).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let mut listener = match listener {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(
                    error.variant = crate::db::errors::sqlx_variant(&error),
                    "live updates: cannot listen"
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        // Until the connection is lost (then listen again).
        while let Ok(Some(notification)) = listener.try_recv().await {
            if let Some(event) = LiveEvent::parse(notification.payload()) {
                // No subscriber is not an error.
                let _ = sender.send(event);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_its_clinic_or_is_ignored() {
        let org = OrganizationId::new();
        let payload = format!(r#"{{"organization_id" : "{}", "anything" : "else"}}"#, org.as_uuid());
        let event = LiveEvent::parse(&payload).expect("parsed");
        assert_eq!(event.organization_id, org);
        assert_eq!(&*event.payload, payload.as_str());
        assert!(LiveEvent::parse("{}").is_none());
        assert!(LiveEvent::parse("not json").is_none());
    }
}
