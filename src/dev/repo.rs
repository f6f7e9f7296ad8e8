use chrono::{DateTime, Utc};
use sqlx::PgConnection;

pub(crate) struct KeptMail {
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub created_at: DateTime<Utc>,
}

pub(crate) struct KeptCall {
    pub channel: String,
    pub to_number: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// The newest 50 e-mails the development mailbox kept.
pub async fn mail(db: &mut PgConnection) -> Result<Vec<KeptMail>, sqlx::Error> {
    sqlx::query_as!(
        KeptMail,
        "SELECT to_address, subject, text_body, created_at FROM dev_mailbox ORDER BY created_at DESC, id DESC LIMIT 50"
    )
    .fetch_all(db)
    .await
}

/// The newest 100 texts and calls the development outbox kept.
pub async fn texts_and_calls(db: &mut PgConnection) -> Result<Vec<KeptCall>, sqlx::Error> {
    sqlx::query_as!(
        KeptCall,
        "SELECT channel, to_number, body, created_at FROM dev_phone_outbox ORDER BY created_at DESC, id DESC LIMIT 100"
    )
    .fetch_all(db)
    .await
}
