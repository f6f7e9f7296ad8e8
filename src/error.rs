//! One error type for the whole request path, and the marker that turns an error status
//! into the styled error page (or an htmx toast) with the request id.
//!
//! It sits at the bottom of the layers so that `auth`, `jobs`, `notify` and the
//! integrations can return it without knowing about HTTP plumbing. Handlers return
//! [`AppResult`]. An [`AppError`] becomes a bare status plus an [`ErrorInfo`] carrying the
//! message a person may read; the render layer (`web::render`) dresses it as a page or
//! toast, because only that layer knows the request (its id, its nonce, whether htmx
//! asked). Internal detail (SQL, causes, stack) goes to the log, never to the page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};

use crate::db::errors::{is_unavailable, sqlx_variant};

pub type AppResult<T> = Result<T, AppError>;

/// The words shown to a person on an error page or toast; never internal detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorInfo {
    pub message: String,
}

impl ErrorInfo {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

/// A bare `status` response carrying `message` for the error page.
pub(crate) fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let mut response = status.into_response();
    response.extensions_mut().insert(ErrorInfo::new(message));
    response
}

impl IntoResponseParts for ErrorInfo {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No signed-in context: sign in first (401).
    #[error("unauthorized")]
    Unauthorized,
    /// The thing does not exist *for this caller*. Also the answer for another tenant's
    /// objects and anything the caller may not know exists: no existence oracle.
    #[error("not found")]
    NotFound,
    /// The caller is known and the thing exists, but this action is not theirs to take.
    #[error("forbidden")]
    Forbidden,
    /// The request cannot be understood; the message is shown to the person.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Too many password hashes are queued: try again in a moment (503).
    #[error("busy")]
    Busy,
    /// The database cannot be reached, has no free connection or is restarting: try again
    /// shortly (503). Holds the kind of failure for the log.
    #[error("database unavailable ({0})")]
    Unavailable(&'static str),
    /// Any other database failure: a bug or a broken invariant (500).
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The context the session claims no longer holds (membership ended, proxy grant
    /// revoked or expired): choose another (403).
    #[error("context ended")]
    ContextEnded,
    /// The server is wired wrongly (a bug, logged where it is found) (500).
    #[error("internal error")]
    Internal,
    /// A template failed to render (500).
    #[error("template rendering failed")]
    Render(#[from] askama::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(unavailable_kind(&error))
        } else {
            Self::Database(error)
        }
    }
}

/// A word for what made the database unavailable, for the log: the SQLSTATE when the
/// server said (never its message), the driver's kind otherwise.
fn unavailable_kind(error: &sqlx::Error) -> &'static str {
    match error.as_database_error().and_then(|e| e.code()).as_deref() {
        Some("57P01") => "admin_shutdown",
        Some("57P02") => "crash_shutdown",
        Some("57P03") => "cannot_connect_now",
        Some("53300") => "too_many_connections",
        Some("25006") => "read_only",
        Some(_) => "connection_exception",
        None => sqlx_variant(error),
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden | Self::ContextEnded => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Render(_) | Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn public_message(&self) -> Option<String> {
        match self {
            Self::BadRequest(message) => Some(message.clone()),
            Self::Busy => Some("Many people are signing in right now. Please try again in a moment.".to_owned()),
            Self::Unavailable(_) => Some(
                "Lockdev cannot reach its database just now. Nothing was changed; please try again in a moment."
                    .to_owned(),
            ),
            Self::ContextEnded => Some(
                "Your access in this context has ended. Choose another context, or ask the clinic if you think this is a mistake."
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// Logs what an operator needs without what a patient would not want logged: for a
    /// database error that is its code, table and constraint, never its message (Postgres
    /// messages quote the offending values).
    fn log(&self) {
        match self {
            Self::Database(sqlx::Error::Database(db)) => tracing::error!(
                error.kind = "database",
                db.code = db.code().as_deref().unwrap_or(""),
                db.table = db.table().unwrap_or(""),
                db.constraint = db.constraint().unwrap_or(""),
                "request failed"
            ),
            Self::Database(other) => {
                tracing::error!(
                    error.kind = "database",
                    error.variant = sqlx_variant(other),
                    "request failed"
                );
            }
            Self::Unavailable(kind) => {
                tracing::warn!(error.kind = "database_unavailable", error.variant = *kind, "request failed");
            }
            Self::Render(source) => {
                tracing::error!(error.kind = "render", error.detail = %source, "request failed");
            }
            Self::Busy => tracing::warn!(error.kind = "busy", "password hashing saturated"),
            Self::Unauthorized
            | Self::NotFound
            | Self::Forbidden
            | Self::ContextEnded
            | Self::BadRequest(_)
            | Self::Internal => {}
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let mut response = match self.public_message() {
            Some(message) => error_response(status, message),
            None => status.into_response(),
        };
        // Both causes of a 503 pass within a second or two.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
