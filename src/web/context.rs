//! The small types the web plumbing passes between its layers, so that none of its files
//! needs another in a circle: who is asking (`Authenticated`, inserted by
//! `authenticate`), what the features declared beside their routes (navigation, chart
//! tabs, background routes), the header a page is drawn with, and the two ways to send a
//! person elsewhere. They hold no logic of the layers that fill or read them.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_htmx::{HX_BOOSTED, HX_REDIRECT, HX_REQUEST};

use crate::auth::policy::{Permission, PlatformRole};
use crate::auth::session::ContextClaim;

/// A set of declared routes the authentication layer treats apart (it runs before the
/// route's own layers and so cannot be told by them): those declared background, and
/// those for callers that are not people.
#[derive(Clone, Default)]
pub struct RouteSet(pub(crate) Arc<HashSet<(Method, &'static str)>>);

impl RouteSet {
    pub fn contains(&self, req: &Request) -> bool {
        req.extensions()
            .get::<MatchedPath>()
            .is_some_and(|path| self.0.iter().any(|(m, p)| m == req.method() && *p == path.as_str()))
    }
}

/// Who sees a navigation entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Anyone not signed in.
    SignedOut,
    /// Anyone signed in with both factors, whatever their context.
    SignedIn,
    /// Staff whose role can have this permission.
    Staff(Permission),
    /// A patient or a proxy.
    Portal,
    /// Any platform role.
    Platform,
    /// This platform role.
    PlatformRole(PlatformRole),
}

/// A link in the page header, declared by the feature it leads to. The header is worked
/// out from the session alone: an entry says who may see it, not what they may do there
/// (the route still checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavEntry {
    pub label: &'static str,
    pub href: &'static str,
    pub audience: Audience,
    /// Place in the header: lower first.
    pub order: u16,
    /// Shown only where the clinic uses this part of the product.
    pub module: Option<crate::auth::policy::Module>,
}

/// The module of the route a request matched, for the tenant transaction's check against
/// the clinic's modules as they are now (see `Routes::module`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteModule(pub crate::auth::policy::Module);

/// Every navigation entry the features declared, in header order.
#[derive(Debug, Clone, Default)]
pub struct Navigation(pub(crate) Arc<Vec<NavEntry>>);

impl Navigation {
    pub fn entries(&self) -> &[NavEntry] {
        &self.0
    }
}

/// A tab of the patient's chart, declared by the feature that serves it: the route
/// pattern of its section (`{patient_id}` where the id goes) and its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartTab {
    pub path: &'static str,
    pub label: &'static str,
    /// Place among the tabs: lower first.
    pub order: u16,
}

/// Every chart tab the features declared, in tab order; reaches the chart frame through
/// the request's `TenantTx`.
#[derive(Debug, Clone, Default)]
pub struct ChartTabs(pub(crate) Arc<Vec<ChartTab>>);

impl ChartTabs {
    pub fn tabs(&self) -> &[ChartTab] {
        &self.0
    }
}

impl ChartTab {
    /// The tab's address for one patient.
    pub fn href(&self, patient_id: &str) -> String {
        self.path.replace("{patient_id}", patient_id)
    }
}

/// The page header for who is signed in: their context and the navigation of their
/// persona. Never patient data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chrome {
    pub signed_in: bool,
    /// "Provider · Riverside Family Clinic".
    pub context_label: Option<String>,
    pub nav: Vec<NavItem>,
    /// Where the sign-out button posts.
    pub sign_out: &'static str,
    /// In a break-glass context: the banner on every page, with its end button posting
    /// here.
    pub emergency_end: Option<&'static str>,
    /// While an administrator acts as a member: whom (the banner), and where ending posts.
    pub impersonation: Option<(String, &'static str)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
}

/// Whether the request wants a fragment (htmx, but not a boosted full-page navigation).
pub(crate) fn wants_fragment(headers: &HeaderMap) -> bool {
    headers.get(HX_REQUEST).is_some_and(|v| v == "true") && headers.get(HX_BOOSTED).is_none()
}

/// Marks an error response whose body must be sent as it is (an htmx redirect).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepBody;

/// Sends the caller elsewhere: htmx requests get 401 + `HX-Redirect` (the page, not the
/// fragment, must change), others 303 See Other.
pub fn redirect(req_headers: &HeaderMap, to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    if wants_fragment(req_headers) {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(HX_REDIRECT, location);
        // A body of our own so the render layer does not dress it as an error toast.
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        response.extensions_mut().insert(KeepBody);
        response
    } else {
        let mut response = StatusCode::SEE_OTHER.into_response();
        response.headers_mut().insert(header::LOCATION, location);
        response
    }
}

/// The role name recorded with audit events for a context.
pub(crate) fn claim_role(claim: &ContextClaim) -> &'static str {
    match claim {
        ContextClaim::Staff { role, .. } => role.as_str(),
        ContextClaim::Patient { .. } => "patient",
        ContextClaim::Proxy { .. } => "proxy",
        ContextClaim::Platform { role } => role.as_str(),
        ContextClaim::BreakGlass { .. } => PlatformRole::SuperAdmin.as_str(),
    }
}
