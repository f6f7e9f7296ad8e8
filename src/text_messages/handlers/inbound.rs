//! `POST /hooks/sms/inbound`: replies to our texts, delivered by SNS from AWS End User
//! Messaging. The message must come from our topic, carry a valid SNS signature (SHA-256
//! unless SHA-1 is allowed by configuration), be less than an hour old, and not have been
//! taken in before; then `notify::inbound` decides what a keyword changes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::notify::inbound::{self, SnsEnvelope};
use crate::web::{AppResult, AppState, SystemTx};

pub async fn receive(State(state): State<AppState>, mut tx: SystemTx, body: Bytes) -> Response {
    let Some(topic) = state.config.messaging.inbound_topic_arn.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(envelope) = serde_json::from_slice::<SnsEnvelope>(&body) else {
        return (StatusCode::BAD_REQUEST, "not an SNS message").into_response();
    };
    if envelope.topic_arn != topic {
        tracing::warn!(reason = "topic", "inbound text refused");
        return (StatusCode::FORBIDDEN, "unknown topic").into_response();
    }
    if let Err(rejected) = state.sns.verify(&envelope, tx.now()).await {
        tracing::warn!(reason = %rejected, "inbound text refused");
        return (StatusCode::FORBIDDEN, "message refused").into_response();
    }
    match envelope.kind.as_str() {
        "SubscriptionConfirmation" => {
            // The address is covered by the verified signature, so it is SNS's.
            if let Some(url) = envelope.subscribe_url.as_deref() {
                state.sns.confirm_subscription(url).await;
            }
            StatusCode::OK.into_response()
        }
        "Notification" => match take_in(&mut tx, &envelope).await {
            Ok(change) => {
                if let Some(change) = change {
                    inbound::confirm(&state.notifier, &change).await;
                }
                StatusCode::OK.into_response()
            }
            Err(error) => {
                // SNS retries on a server error (the error is logged by its kind only).
                let mut response = error.into_response();
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                response
            }
        },
        _ => StatusCode::OK.into_response(),
    }
}

/// Records the delivery and what the text asks, in one transaction. A message id seen
/// before is answered 200 and does nothing (SNS may deliver twice; a replay must not
/// act twice).
async fn take_in(tx: &mut SystemTx, envelope: &SnsEnvelope) -> AppResult<Option<inbound::OptOutChange>> {
    let now = tx.now();
    let conn = tx.conn().await?;
    if !inbound::first_delivery(&mut *conn, envelope, now).await? {
        tracing::info!(reason = "repeated message id", "inbound text already taken in");
        return Ok(None);
    }
    let change = inbound::handle_text(conn, &envelope.message, now).await?;
    tx.commit().await?;
    Ok(change)
}
