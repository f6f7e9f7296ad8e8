//! HTTP plumbing: the middleware stack every request passes ([`pipeline`]), who is
//! asking ([`authenticate`]), the two transactions handlers reach the database through
//! ([`TenantTx`], [`SystemTx`]), the route registry, rendering, static assets and live
//! updates. It knows no feature: the composition root (`app.rs`) hands it the routes.

pub mod assets;
pub mod authenticate;
pub(crate) mod chrome;
pub(crate) mod client_ip;
pub mod context;
pub mod form_input;
pub mod hosts;
pub mod live;
pub mod pipeline;
pub(crate) mod rate_limit;
pub(crate) mod render;
pub mod request_id;
pub mod routes;
pub(crate) mod security_headers;
pub mod state;
pub(crate) mod step_up;
pub(crate) mod system_tx;
pub(crate) mod tenant_tx;

pub use crate::error::{AppError, AppResult};
pub use context::{Audience, NavEntry, redirect};
pub use render::{Framed, Page};
pub use routes::{Access, Phi, RouteSpec, Routes};
pub use state::{AppState, AuthServices, SharedState};
pub use step_up::{StepUp, SteppedUp};
pub use system_tx::SystemTx;
pub use tenant_tx::{ActiveContext, RequestInfo, TenantTx};

/// Reads a form body after the handler has authorized the request (so that a request for
/// something the caller may not see gets 404 whatever its body holds).
pub(crate) fn parse_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> AppResult<T> {
    serde_urlencoded::from_bytes(body).map_err(|_| {
        AppError::BadRequest("The form could not be read. Nothing was saved; please try again.".into())
    })
}

/// The session cookie's name: `__Host-` prefixed whenever the site is served over https
/// (plain-http development on localhost drops the prefix, or the browser would refuse
/// the cookie).
pub(crate) fn session_cookie_name(secure: bool) -> &'static str {
    if secure { "__Host-lockdev" } else { "lockdev_session" }
}
