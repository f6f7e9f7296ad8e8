//! Live updates for open pages. Each process LISTENs once on the `lockdev_schedule`
//! channel (the appointments trigger NOTIFYs it after every committed change) and passes
//! each change to the pages subscribed in this process; so two processes behind one load
//! balancer both deliver every change. Changes carry identifiers only: a page that hears
//! of one fetches what it may show through a normal, authorized request.

use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

use crate::db::ids::{AppointmentId, OrganizationId, ProviderId};

pub(crate) const SCHEDULE_CHANNEL: &str = "lockdev_schedule";

/// One committed change to an appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScheduleChange {
    pub organization_id: OrganizationId,
    pub appointment_id: AppointmentId,
    pub provider_id: ProviderId,
    /// `booked`, `checked_in`, `completed`, `cancelled`, `no_show`.
    pub change: String,
}

/// The trigger's payload: uuids as PostgreSQL prints them.
#[derive(Deserialize)]
struct Payload {
    organization_id: uuid::Uuid,
    appointment_id: uuid::Uuid,
    provider_id: uuid::Uuid,
    change: String,
}

impl ScheduleChange {
    fn parse(payload: &str) -> Option<Self> {
        let raw: Payload = serde_json::from_str(payload).ok()?;
        Some(Self {
            organization_id: OrganizationId::from_uuid(raw.organization_id),
            appointment_id: AppointmentId::from_uuid(raw.appointment_id),
            provider_id: ProviderId::from_uuid(raw.provider_id),
            change: raw.change.chars().take(20).collect(),
        })
    }
}

pub struct Hub {
    sender: broadcast::Sender<ScheduleChange>,
    listening: OnceLock<()>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { sender: broadcast::channel(256).0, listening: OnceLock::new() }
    }
}

impl Hub {
    /// Subscribes to every change in this process (callers filter by clinic). The
    /// database listener starts with the first subscriber.
    pub(crate) fn subscribe(&self, pool: &PgPool) -> broadcast::Receiver<ScheduleChange> {
        let receiver = self.sender.subscribe();
        self.listening.get_or_init(|| {
            tokio::spawn(listen(pool.clone(), self.sender.clone()));
        });
        receiver
    }
}

/// Forwards notifications until the process ends, reconnecting after a lost connection.
async fn listen(pool: PgPool, sender: broadcast::Sender<ScheduleChange>) {
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(SCHEDULE_CHANNEL).await?;
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
            if let Some(change) = ScheduleChange::parse(notification.payload()) {
                // No subscriber is not an error.
                let _ = sender.send(change);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_triggers_payload_is_read() {
        let org = OrganizationId::new();
        let payload = format!(
            r#"{{"organization_id" : "{}", "appointment_id" : "{}", "provider_id" : "{}", "change" : "booked"}}"#,
            org.as_uuid(),
            AppointmentId::new().as_uuid(),
            ProviderId::new().as_uuid()
        );
        let change = ScheduleChange::parse(&payload).expect("parsed");
        assert_eq!((change.organization_id, change.change.as_str()), (org, "booked"));
        assert!(ScheduleChange::parse("{}").is_none());
    }
}
