//! Outbound communication and the one contact gate.
//!
//! Every automated message (reminder, call-back, portal notice) is a `notifications` row
//! worked by the `notify.send` job, which asks [`gate::decide`] at send time which contact
//! may carry it, sends it through a channel ([`channels`], e-mail through
//! [`crate::integrations::mail`]), and records the outcome with an audit event (channel,
//! a hash of the number, the version of the safety flags, outcome). A message the gate
//! refuses is recorded as blocked with its reason and raises a task for staff; it is
//! never dropped silently. Account e-mail (invitations, resets, verification) goes to the
//! address a person signs in with, which they chose, through the same queue.
//!
//! The one exception to the gate is the confirmation of a STOP or START keyword
//! ([`inbound`]): a fixed text, carrying nothing, to the number that just wrote to us,
//! which the carrier rules require. (The webhook that receives inbound texts is HTTP and
//! lives with the feature, `text_messages`.)

pub mod channels;
pub mod content;
pub mod facts;
pub mod gate;
pub mod inbound;
pub mod jobs;
pub mod reminders;
pub(crate) mod tasks;

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;
use crate::crypto::DataKey;
use crate::integrations::mail::Mailer;
use channels::{TextSender, VoiceCaller};

pub use gate::{Channel, Decision, Purpose};

/// The channels and what messages need to be written, built once per process.
#[derive(Clone)]
pub struct Notifier {
    pub mailer: Arc<dyn Mailer>,
    pub texts: Arc<dyn TextSender>,
    pub voice: Arc<dyn VoiceCaller>,
    /// Seals queued account e-mail (it holds one-time links).
    pub data_key: DataKey,
    /// `https://…/portal`, the only link automated messages carry.
    pub portal_url: String,
}

impl Notifier {
    pub fn from_config(config: &Config, pool: &PgPool, mailer: Arc<dyn Mailer>) -> Self {
        Self {
            mailer,
            texts: channels::text_sender(&config.messaging.text, pool.clone()),
            voice: channels::voice_caller(&config.messaging.voice, pool.clone()),
            data_key: DataKey::new(config.auth.data_key.expose()),
            portal_url: format!("{}/portal", config.http.public_url.as_str().trim_end_matches('/')),
        }
    }
}

/// SHA-256 of a number or address, hex: the audit record proves where a message went
/// without holding the number.
pub fn destination_hash(value: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(value.trim().to_lowercase().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
