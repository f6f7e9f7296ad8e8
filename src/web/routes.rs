//! The route registry: every route with who may call it and whether it touches PHI.
//!
//! Features declare their routes here and nowhere else ([`Routes::route`]); the router
//! is built only from the declarations, and a test fails when `.route(` appears anywhere
//! outside this file. Because the declarations are data, tests walk all of them: security
//! headers, CSRF, cross-tenant probes and audit coverage run over every route, including
//! the ones added after the tests were written.
//!
//! The declared [`Access`] is enforced before the handler runs (a context whose role can
//! never have the permission gets 403 and an `authz_denied` event); the per-patient
//! decision stays with the handler, through `TenantTx::authorize`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};

use crate::audit::AuditEvent;
use crate::auth::policy::{self, Permission};
use crate::web::tenant_tx::{ActiveContext, record_after_rollback, request_meta};
use crate::web::{AppError, AppState};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (health, static files, the start page, sign-in).
    Public,
    /// A context (organization and role) whose role can have this permission.
    Tenant(Permission),
}

/// Whether a route reads or writes protected health information. Every PHI route must
/// write exactly one audit event per request (tested over the registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phi {
    None,
    Reads,
    Writes,
}

/// One declared route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    /// The axum path template, e.g. `/patients/{patient_id}`.
    pub path: &'static str,
    pub access: Access,
    pub phi: Phi,
}

/// Routes and their declarations, built together so they cannot disagree.
pub struct Routes {
    specs: Vec<RouteSpec>,
    router: Router<AppState>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    pub fn new() -> Self {
        Self {
            specs: Vec::new(),
            router: Router::new(),
        }
    }

    /// Declares and adds one route.
    pub fn route<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        phi: Phi,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
        let method_router = on(filter, handler);
        let method_router = match access {
            Access::Public => method_router,
            Access::Tenant(permission) => {
                method_router.route_layer(axum::middleware::from_fn(move |req: Request, next: Next| {
                    require_permission(permission, req, next)
                }))
            }
        };
        self.router = self.router.route(path, method_router);
        self.specs.push(RouteSpec {
            method,
            path,
            access,
            phi,
        });
        self
    }

    pub fn get<H, T>(self, path: &'static str, access: Access, phi: Phi, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::GET, path, access, phi, handler)
    }

    pub fn post<H, T>(self, path: &'static str, access: Access, phi: Phi, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(Method::POST, path, access, phi, handler)
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.specs.extend(other.specs);
        self.router = self.router.merge(other.router);
        self
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    /// The router, with the middleware that records function-level denials.
    pub fn into_router(self, state: &AppState) -> Router<AppState> {
        self.router
            .layer(from_fn_with_state(state.clone(), record_function_denials))
    }
}

/// Marks a response as a function-level refusal, for [`record_function_denials`].
#[derive(Debug, Clone, Copy)]
struct FunctionDenied(Permission);

async fn require_permission(permission: Permission, req: Request, next: Next) -> Response {
    let Some(context) = req.extensions().get::<Arc<ActiveContext>>() else {
        return AppError::Unauthorized.into_response();
    };
    if policy::grants(context.principal, permission) {
        next.run(req).await
    } else {
        let mut response = AppError::Forbidden.into_response();
        response.extensions_mut().insert(FunctionDenied(permission));
        response
    }
}

/// Writes the `authz_denied` event for a route refused by its declared access (no
/// transaction was opened for that request, so one is opened here).
async fn record_function_denials(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let context = req.extensions().get::<Arc<ActiveContext>>().map(|established| {
        let mut context = ActiveContext::clone(established);
        context.tenant.request = request_meta(req.extensions(), req.headers());
        context
    });
    let response = next.run(req).await;
    if let (Some(FunctionDenied(permission)), Some(context)) =
        (response.extensions().get::<FunctionDenied>(), context)
    {
        let mut event = AuditEvent::denied("route", None, "role_lacks_permission");
        event.purpose = Some(format!("{permission:?}"));
        record_after_rollback(&state.db, &context.tenant, &[event]).await;
    }
    response
}

/// The benchmark floor (F_http): one static handler, no middleware, no registry. Served
/// only by `lockdev bench-floor`, never by `serve`.
pub fn bench_floor() -> Router {
    Router::new().route("/", axum::routing::get(|| async { "ok" }))
}
