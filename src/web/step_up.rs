//! Step-up: a sensitive change needs a proof of identity from the last few minutes (the
//! password, or a second factor, within `auth::signin::STEP_UP_WINDOW`). A session left
//! open on a shared desk must not be enough to decide where a patient's messages go,
//! change a clinic's settings or someone's role, or end the owner's other sessions.
//!
//! [`SteppedUp`] is the extractor for routes that are sensitive as a whole: without a
//! fresh proof the handler never runs and the person is sent to confirm it is them, then
//! back to the page they were on. [`StepUp`] is for handlers where only some requests
//! are sensitive (a contact edit that changes its safety flags): they ask
//! [`StepUp::refusal`] before their first write.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum_htmx::HX_CURRENT_URL;

use crate::auth::session::safe_return_path;
use crate::auth::signin::{FlowPage, recently_reauthenticated};
use crate::error::AppError;
use crate::web::AppState;
use crate::web::authenticate::Authenticated;
use crate::web::context::redirect;

/// Whether the person proved who they are recently, and where to come back to.
pub struct StepUp {
    fresh: bool,
    back_to: String,
    reauthenticate: &'static str,
    headers: HeaderMap,
}

/// Where to return after confirming: the page the person was on (htmx says which), the
/// page itself for a GET, else the address the form came from (same site only).
fn back_to(parts: &Parts, home: &str) -> String {
    let from_url = |value: &str| {
        url::Url::parse(value).ok().map(|url| match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
    };
    let candidate = if let Some(current) = parts.headers.get(HX_CURRENT_URL).and_then(|v| v.to_str().ok()) {
        from_url(current)
    } else if parts.method == Method::GET {
        parts.uri.path_and_query().map(|pq| pq.as_str().to_owned())
    } else {
        parts.headers.get(axum::http::header::REFERER).and_then(|v| v.to_str().ok()).and_then(from_url)
    };
    candidate.as_deref().and_then(safe_return_path).unwrap_or_else(|| home.to_owned())
}

impl FromRequestParts<AppState> for StepUp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth =
            parts.extensions.get::<Authenticated>().ok_or_else(|| AppError::Unauthorized.into_response())?;
        Ok(Self {
            fresh: recently_reauthenticated(auth.reauthenticated_at, state.clock.now()),
            back_to: back_to(parts, state.pages.path(FlowPage::Home)),
            reauthenticate: state.pages.path(FlowPage::Reauthenticate),
            headers: parts.headers.clone(),
        })
    }
}

impl StepUp {
    /// `None` when the person proved who they are recently; otherwise the answer that
    /// sends them to confirm it (an htmx request changes the whole page), to return to
    /// `back_to` and make the change again. Ask before the first write: a redirect is a
    /// success to the request's transaction.
    pub fn refusal(&self) -> Option<Response> {
        self.refusal_returning_to(&self.back_to)
    }

    /// [`StepUp::refusal`], coming back to `next` (a page's own address, for a form
    /// posted from it: with no referrer sent, the page it came from is unknown).
    pub fn refusal_returning_to(&self, next: &str) -> Option<Response> {
        self.confirm_url(next).map(|confirm| redirect(&self.headers, &confirm))
    }

    /// Where to confirm it is them and come back to `next`, when they must (for a
    /// script-driven request that answers JSON: a passkey ceremony).
    pub fn confirm_url(&self, next: &str) -> Option<String> {
        if self.fresh {
            return None;
        }
        let next = url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>();
        Some(format!("{}?next={next}", self.reauthenticate))
    }
}

/// A route that is sensitive as a whole: the handler runs only after a recent proof of
/// identity (declare it before `TenantTx`, so no transaction is opened otherwise).
pub struct SteppedUp;

impl FromRequestParts<AppState> for SteppedUp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match StepUp::from_request_parts(parts, state).await?.refusal() {
            Some(refusal) => Err(refusal),
            None => Ok(Self),
        }
    }
}
