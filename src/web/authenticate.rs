//! The authentication middleware: reads the session once, enforces the idle and
//! absolute timeouts with the injected clock, checks the CSRF token of every
//! state-changing request, and tells the rest of the request who is asking.
//!
//! What counts as activity is the server's decision, by route: the routes a page calls
//! by itself (the live schedule's event stream and its reloads) are declared background
//! in the registry and never extend a session, whatever the request says about itself.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq as _;
use tower_sessions::Session;

use crate::auth::contexts::{self, Standing};
use crate::auth::policy::Module;
use crate::auth::session::{self, ContextClaim, SessionData};
use crate::db::ids::UserId;
use crate::db::tenant::{SystemContext, begin_system};
use crate::error::{AppError, error_response};
use crate::web::AppState;
use crate::web::chrome::chrome;
use crate::web::context::{Navigation, RouteSet};

/// The header htmx requests carry the CSRF token in (set with `hx-headers` on `<body>`).
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// The form field plain forms carry it in.
pub(crate) const CSRF_FIELD: &str = "csrf_token";

/// Who is asking, for requests with a signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub user_id: UserId,
    pub second_factor_satisfied: bool,
    pub second_factor_enrolled: bool,
    pub context: Option<ContextClaim>,
    pub consents_accepted: bool,
    pub reauthenticated_at: DateTime<Utc>,
    /// The last action counted, and the idle limit the session was entered with: the
    /// tenant transaction holds them against the clinic's current limit.
    pub last_activity: DateTime<Utc>,
    pub idle_minutes: u32,
    /// Whether the account is open and the claimed platform role still held, as read with
    /// the session this request (routes outside a clinic refuse on it).
    pub standing: Standing,
    /// The parts of the product the clinic switched off, as the session last saw them
    /// (the tenant transaction compares them with the clinic's, and updates the session).
    pub disabled_modules: Vec<Module>,
    /// While acting as another member: (the record, the member). Their view and
    /// permissions apply in the clinic; `user_id` stays the administrator's.
    pub impersonating: Option<(uuid::Uuid, UserId)>,
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Authenticated>().cloned().ok_or(AppError::Unauthorized)
    }
}

/// Marks a request whose session just timed out (the sign-in page says so).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionExpired;

/// The CSRF token of the response's session, for the render layer (forms, `hx-headers`).
#[derive(Debug, Clone)]
pub(crate) struct CsrfToken(pub String);

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn authenticate(
    State((state, background, machine, navigation)): State<(AppState, RouteSet, RouteSet, Navigation)>,
    mut req: Request,
    next: Next,
) -> Response {
    // Static files, health probes and provider webhooks are not called by people: no
    // session is read (a webhook proves who it is by its signature).
    if machine.contains(&req) {
        return next.run(req).await;
    }
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        tracing::error!(error.kind = "wiring", "authentication without a session layer");
        return AppError::Internal.into_response();
    };
    let now = state.clock.now();
    let absolute = state.config.auth.absolute_limit();
    let mut data = match session::load(&session).await {
        Ok(data) => data,
        Err(error) => return error.into_response(),
    };

    let mut dirty = false;
    // The last action before this request, for the checks after this layer (a clinic's
    // shorter idle limit): this request itself must not count as the idleness ending.
    let previous_activity = data.user.as_ref().map(|u| u.last_activity);
    if let Some(user) = &mut data.user {
        let timed_out =
            now - user.authenticated_at >= absolute || now - user.last_activity >= user.idle_limit();
        if timed_out {
            let user_id = user.user_id;
            let id = session.id().map(|id| id.to_string());
            if let Err(error) = session::end(&session).await {
                return error.into_response();
            }
            forget(&state, user_id, id).await;
            data = SessionData::default();
            req.extensions_mut().insert(SessionExpired);
        } else if !background.contains(&req)
            && now - user.last_activity >= session::activity_granularity(user)
        {
            user.last_activity = now;
            dirty = true;
        }
    }

    if is_state_changing(req.method()) {
        let (checked, request) = match csrf_ok(req, &data.csrf).await {
            Ok(result) => result,
            Err(response) => return response,
        };
        req = request;
        if !checked {
            tracing::warn!(reason = "csrf_token", "request refused");
            return error_response(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Reload the page and try again.",
            );
        }
    }

    if let Some(user) = &data.user {
        let account = match session::account(&session).await {
            Ok(account) => account,
            Err(error) => return error.into_response(),
        };
        req.extensions_mut().insert(Authenticated {
            standing: contexts::standing(&account, user.context),
            user_id: user.user_id,
            second_factor_satisfied: user.second_factor_satisfied(),
            second_factor_enrolled: user.second_factor_enrolled,
            context: user.context,
            consents_accepted: user.consents_accepted,
            reauthenticated_at: user.reauthenticated_at,
            last_activity: previous_activity.unwrap_or(user.last_activity),
            idle_minutes: user.idle_minutes,
            disabled_modules: user.disabled_modules.clone(),
            impersonating: user.impersonating.as_ref().map(|i| (i.id, i.target)),
        });
    }
    if dirty
        && let Err(error) = session::store(&session, &data, session::expiry_for(&data, now, absolute)).await
    {
        return error.into_response();
    }

    let mut response = next.run(req).await;
    // The session as the handler left it (sign-in rotates the token; the sign-in page
    // creates one): no query, the record is already loaded.
    let data = session::load(&session).await.unwrap_or_default();
    response.extensions_mut().insert(chrome(&data, &navigation, &state.pages));
    response.extensions_mut().insert(CsrfToken(data.csrf));
    response
}

/// Removes the index entry of a session that timed out. Best effort: a leftover entry
/// points at nothing and is removed at the person's next sign-in.
async fn forget(state: &AppState, user: UserId, id: Option<String>) {
    let result = async {
        let mut tx =
            begin_system(&state.db, &SystemContext { user_id: Some(user), ..Default::default() }).await?;
        crate::auth::sessions::forget(&mut tx, id).await?;
        tx.commit().await
    }
    .await;
    if let Err(error) = result {
        tracing::warn!(
            error.variant = crate::db::errors::sqlx_variant(&error),
            "session index entry not removed"
        );
    }
}

/// Whether the request carries the session's CSRF token, in the header or (for plain
/// forms) the form body; returns the request with its body intact.
async fn csrf_ok(req: Request, expected: &str) -> Result<(bool, Request), Response> {
    // Pages carry the token masked afresh each time (`session::mask_csrf`): unmask, then
    // compare in constant time.
    let matches = |presented: &str| {
        !expected.is_empty()
            && session::unmask_csrf(presented)
                .is_some_and(|token| bool::from(token.as_slice().ct_eq(expected.as_bytes())))
    };
    if let Some(presented) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let ok = matches(presented);
        return Ok((ok, req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((false, req));
    }
    let (parts, body) = req.into_parts();
    // The body-limit layer has already bounded the size.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response()),
    };
    let ok = url::form_urlencoded::parse(&bytes).any(|(name, value)| name == CSRF_FIELD && matches(&value));
    Ok((ok, Request::from_parts(parts, Body::from(bytes))))
}
