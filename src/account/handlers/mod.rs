//! The account page's handlers, by what they change, and what they share: the step-up
//! redirect and check, and what follows any change of second factor.

pub(super) mod credentials;
pub(super) mod factors;
pub(super) mod security;
pub(super) mod step_up;

use serde_json::json;
use tower_sessions::Session;

use crate::audit::{Action, AuditEvent, Outcome};
use crate::auth::notices;
use crate::auth::signin::{self, Step};
use crate::db::ids::UserId;
use crate::web::authenticate::Authenticated;
use crate::web::{AppResult, AppState, SystemTx};

fn step<'a>(state: &'a AppState, session: &'a Session, tx: &SystemTx) -> Step<'a> {
    state.sign_in_step(session, tx.request().clone(), tx.now())
}

/// Before the second factor is done, only a person with no factor yet may set one up
/// (their first); anyone else must pass the challenge first.
fn may_enrol(auth: &Authenticated) -> bool {
    auth.second_factor_satisfied || !auth.second_factor_enrolled
}

/// After any change of second factor, in the change's transaction: other sessions end,
/// the change is audited, the person is told by e-mail.
async fn factor_changed(
    state: &AppState,
    tx: &mut SystemTx,
    session: &Session,
    user: UserId,
    action: Action,
    method: &'static str,
    notice: &str,
) -> AppResult<()> {
    let ended = signin::end_other_sessions(tx.conn().await?, user, session).await?;
    let mut event = AuditEvent::new(action, Outcome::Success).resource("user", user);
    event.details = json!({ "method": method, "other_sessions_ended": ended });
    tx.audit(&event).await?;
    let now = tx.now();
    notices::tell(tx.conn().await?, &state.notifier, user, notice, now).await
}
