//! Rendering: the one place where templates become HTML.
//!
//! Handlers return [`Page`]`(template)` and never deal with the CSP nonce or the request
//! id: the response carries the template, and [`layer`] (which sees the request) renders
//! it with those values supplied as askama runtime values (`{{ "csp_nonce"|value::<String> }}`).
//! The same layer turns any bare error status — from a handler's [`AppError`], axum's
//! 404/405, the body limit's 413, the timeout, a caught panic, the rate limiter — into the
//! styled error page, or for an htmx request into a toast that lands in `#toasts` without
//! disturbing the page.
//!
//! [`AppError`]: crate::web::AppError

use std::any::Any;
use std::sync::Arc;

use askama::{DynTemplate, Template};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_htmx::{HX_RESWAP, HX_RETARGET};

use crate::error::ErrorInfo;
// The header types live with the other small shared types; templates name them here.
use crate::web::authenticate::CsrfToken;
pub(crate) use crate::web::context::{Chrome, KeepBody, wants_fragment};
use crate::web::request_id::RequestId;
use crate::web::security_headers::CspNonce;

/// A template to be rendered as this response's HTML body.
pub struct Page<T>(pub T);

/// The template travelling from handler to [`layer`] inside the response extensions.
#[derive(Clone)]
struct Deferred(Arc<dyn DynTemplate + Send + Sync>);

impl<T: Template + Send + Sync + 'static> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        response.extensions_mut().insert(Deferred(Arc::new(self.0)));
        response
    }
}

/// A section inside a frame (the chart's header and tabs around one chart section). An
/// htmx request gets the section alone; a normal request the whole page, the section
/// placed where the frame reads the `section_html` value.
pub struct Framed<F, S>(pub F, pub S);

#[derive(Clone)]
struct DeferredFrame(Arc<dyn DynTemplate + Send + Sync>);

impl<F, S> IntoResponse for Framed<F, S>
where
    F: Template + Send + Sync + 'static,
    S: Template + Send + Sync + 'static,
{
    fn into_response(self) -> Response {
        let mut response = Page(self.1).into_response();
        response.extensions_mut().insert(DeferredFrame(Arc::new(self.0)));
        response
    }
}

/// Whether `response` carries a page a handler rendered (as opposed to a bare status the
/// render layer will dress as an error page, which shows no data).
pub(crate) fn renders_page(response: &Response) -> bool {
    response.extensions().get::<Deferred>().is_some()
}

/// Values every template may read without a field for them in its struct.
pub(crate) struct RenderValues {
    pub csp_nonce: String,
    pub request_id: String,
    /// The session's CSRF token, for `hx-headers` and hidden form fields.
    pub csrf_token: String,
    pub chrome: Chrome,
    /// The rendered section of a [`Framed`] page (already escaped by its own template).
    pub section_html: String,
}

impl askama::Values for RenderValues {
    fn get_value<'a>(&'a self, key: &str) -> Option<&'a dyn Any> {
        match key {
            "csp_nonce" => Some(&self.csp_nonce),
            "request_id" => Some(&self.request_id),
            "csrf_token" => Some(&self.csrf_token),
            "chrome" => Some(&self.chrome),
            "section_html" => Some(&self.section_html),
            _ => None,
        }
    }
}

/// Middleware: renders deferred templates and dresses bare error statuses.
pub async fn layer(req: Request, next: Next) -> Response {
    let values = RenderValues {
        csp_nonce: req.extensions().get::<CspNonce>().map(|n| n.0.clone()).unwrap_or_default(),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default(),
        csrf_token: String::new(),
        chrome: Chrome::default(),
        section_html: String::new(),
    };
    let fragment = wants_fragment(req.headers());
    let mut response = next.run(req).await;
    let mut values = values;
    if let Some(CsrfToken(token)) = response.extensions_mut().remove::<CsrfToken>() {
        // Masked afresh for each response (see `auth::session::mask_csrf`).
        values.csrf_token = if token.is_empty() { token } else { crate::auth::session::mask_csrf(&token) };
    }
    if let Some(chrome) = response.extensions_mut().remove::<Chrome>() {
        values.chrome = chrome;
    }

    let frame = response.extensions_mut().remove::<DeferredFrame>();
    if let Some(Deferred(template)) = response.extensions_mut().remove::<Deferred>() {
        let rendered = template.dyn_render_with_values(&values).and_then(|html| match frame {
            Some(DeferredFrame(frame)) if !fragment => {
                values.section_html = html;
                frame.dyn_render_with_values(&values)
            }
            _ => Ok(html),
        });
        match rendered {
            Ok(html) => {
                *response.body_mut() = Body::from(html);
                return response;
            }
            Err(error) => {
                tracing::error!(error.kind = "render", error.detail = %error, "request failed");
                response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
    }

    if needs_error_page(&response) {
        let status = response.status();
        let message = response.extensions_mut().remove::<ErrorInfo>().map(|i| i.message);
        let (title, default_message) = describe(status);
        let message = message.unwrap_or_else(|| default_message.to_owned());
        let rendered = if fragment {
            ErrorToast { title, message: &message }.render_with_values(&values)
        } else {
            ErrorPage { status: status.as_u16(), title, message: &message }.render_with_values(&values)
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        headers.remove(header::CONTENT_LENGTH);
        if fragment {
            // Land in the toast region whatever the triggering element targeted.
            headers.insert(HX_RETARGET, HeaderValue::from_static("#toasts"));
            headers.insert(HX_RESWAP, HeaderValue::from_static("beforeend"));
        }
        // Rendering our own error templates cannot reasonably fail; if it does, plain text
        // with the reference still beats an empty page.
        let body = rendered.unwrap_or_else(|_| format!("{title}. Reference: {}", values.request_id));
        *response.body_mut() = Body::from(body);
    }
    response
}

/// Error statuses without a body of their own (or with framework plain text) get ours;
/// JSON and HTML that a handler chose deliberately are left alone.
fn needs_error_page(response: &Response) -> bool {
    if !(response.status().is_client_error() || response.status().is_server_error())
        || response.extensions().get::<KeepBody>().is_some()
    {
        return false;
    }
    if response.extensions().get::<ErrorInfo>().is_some() {
        return true;
    }
    match response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(content_type) => content_type.starts_with("text/plain"),
    }
}

fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (
            "Request not understood",
            "That request could not be handled. Check the address or the form and try again.",
        ),
        StatusCode::UNAUTHORIZED => ("Sign-in needed", "Please sign in to continue."),
        StatusCode::FORBIDDEN => ("Not allowed", "Your account does not have access to this."),
        StatusCode::NOT_FOUND => (
            "Page not found",
            "This page does not exist, or it is not available to you. Check the address, or go back to the start page.",
        ),
        StatusCode::METHOD_NOT_ALLOWED => ("Not allowed", "That action is not available at this address."),
        StatusCode::REQUEST_TIMEOUT => ("Took too long", "The request took too long. Please try again."),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("Too large", "What you sent is larger than this server accepts. Nothing was saved.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
            ("Request not understood", "The form could not be read. Nothing was saved; please try again.")
        }
        StatusCode::TOO_MANY_REQUESTS => ("Too many requests", "Please wait a moment and try again."),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => (
            "Temporarily unavailable",
            "The service is busy or briefly unavailable. Nothing was lost; please try again in a moment.",
        ),
        s if s.is_server_error() => (
            "Something went wrong",
            "An unexpected error stopped this request. It has been logged; nothing was saved. If it keeps happening, contact support and quote the reference below.",
        ),
        _ => ("Request not completed", "That request could not be completed."),
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "errors/_toast.html")]
struct ErrorToast<'a> {
    title: &'a str,
    message: &'a str,
}
