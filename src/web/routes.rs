//! The route registry: every route with who may call it and whether it touches PHI.
//!
//! Features declare their routes here and nowhere else ([`Routes::route`]); the router
//! is built only from the declarations, and a test fails when `.route(` appears anywhere
//! outside this file. Because the declarations are data, tests walk all of them: security
//! headers, CSRF, cross-tenant probes and audit coverage run over every route, including
//! the ones added after the tests were written.
//!
//! The declared [`Access`] is enforced before the handler runs: a signed-out caller is
//! sent to sign in (an htmx request gets 401 with `HX-Redirect`, never a sign-in form
//! swapped into a fragment), a person owing a second factor is sent to it, a person
//! without a context to the context picker, and a context of the wrong kind (a patient
//! on a staff page, staff on a portal page) or whose role can never have the permission
//! gets 403 and an `authz_denied` event. The per-patient decision stays with the
//! handler, through `TenantTx::authorize`.
//!
//! A route may also be declared *background*: a request the page makes by itself (an
//! event stream, a live reload). Those never count as a person's activity, so an open
//! page does not keep an idle session alive.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use axum_htmx::HX_CURRENT_URL;
use chrono::{DateTime, Utc};

use crate::audit::AuditEvent;
use crate::auth::contexts::Standing;
use crate::auth::policy::{self, Module, Permission, PlatformRole, Principal, ProxyScopes};
use crate::auth::session::{self, ContextClaim, safe_return_path};
use crate::auth::signin::{FlowPage, FlowPages};
use crate::db::tenant::{ActorKind, SystemContext, TenantContext, begin_system};
use crate::error::AppError;
use crate::web::AppState;
use crate::web::authenticate::Authenticated;
use crate::web::context::{
    Audience, ChartTab, ChartTabs, NavEntry, Navigation, RouteModule, RouteSet, claim_role, redirect,
    wants_fragment,
};
use crate::web::form_input::{self, BodyRule};
use crate::web::tenant_tx::{record_after_rollback, request_meta};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (the start page, sign-in, the status page).
    Public,
    /// A caller that is not a person: health probes, static files, a provider's webhook
    /// (which proves itself by its signature). No session is read and no CSRF token
    /// asked: there is no person and no browser to protect.
    Machine,
    /// A health probe: a [`Access::Machine`] route that load balancers call by address,
    /// so it is answered whatever the `Host` header says (it holds no patient data).
    Probe,
    /// Signed in with the first factor; the second may still be owed (the second-factor
    /// pages, sign-out).
    FirstFactor,
    /// Fully signed in; no context needed (context picker, consent, account security).
    SignedIn,
    /// Fully signed in, in a clinic *staff* context whose role can have this permission,
    /// with the context's consents accepted. Patients and proxies never reach these.
    Staff(Permission),
    /// Fully signed in as a patient or a proxy (the portal), whose context can have this
    /// permission, with the context's consents accepted. Staff never reach these.
    Portal(Permission),
    /// Fully signed in with this platform role as the context.
    Platform(PlatformRole),
}

impl Access {
    /// The permission a clinic route is declared with (`None` for the others).
    pub fn clinic_permission(self) -> Option<Permission> {
        match self {
            Self::Staff(permission) | Self::Portal(permission) => Some(permission),
            _ => None,
        }
    }

    /// Whether `claim` is of the kind this route serves (before its permission is asked).
    fn serves(self, claim: &ContextClaim) -> bool {
        match self {
            Self::Staff(_) => matches!(claim, ContextClaim::Staff { .. } | ContextClaim::BreakGlass { .. }),
            Self::Portal(_) => matches!(claim, ContextClaim::Patient { .. } | ContextClaim::Proxy { .. }),
            _ => true,
        }
    }
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
    /// Called by a page on its own (never a person's activity).
    pub background: bool,
    /// What its body may be: a form (with the fields that may hold tabs and line breaks)
    /// or a raw body of its own (see `web::form_input`).
    pub body: BodyRule,
    /// The part of the product it belongs to, if a clinic may switch that part off.
    pub module: Option<Module>,
}

/// Routes and their declarations, built together so they cannot disagree.
pub struct Routes {
    /// The module the routes and navigation declared from here on belong to.
    module: Option<Module>,
    specs: Vec<RouteSpec>,
    nav: Vec<NavEntry>,
    tabs: Vec<ChartTab>,
    flow: Vec<(FlowPage, &'static str)>,
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
            module: None,
            specs: Vec::new(),
            nav: Vec::new(),
            tabs: Vec::new(),
            flow: Vec::new(),
            router: Router::new(),
        }
    }

    /// The routes and navigation entries declared after this belong to `module`: a clinic
    /// that switched it off gets 404 from them, and does not see their entries. Only
    /// clinic routes (staff or portal) belong to a module.
    pub fn module(mut self, module: Module) -> Self {
        self.module = Some(module);
        self
    }

    /// The modules some route belongs to: the parts of the product that exist so far.
    pub fn modules(&self) -> Vec<Module> {
        let mut modules: Vec<Module> = self.specs.iter().filter_map(|s| s.module).collect();
        modules.sort_unstable();
        modules.dedup();
        modules
    }

    /// Declares and adds one route.
    pub fn route<H, T>(self, method: Method, path: &'static str, access: Access, phi: Phi, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.declare(method, path, access, phi, BodyRule::Form(&[]), handler)
    }

    /// Declares and adds one route. A state-changing route's form passes the one
    /// cleaning step first (`web::form_input`), where only the `multi_line` fields may
    /// hold tabs and line breaks; then the declared access is checked (the layer added
    /// last runs first).
    fn declare<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        phi: Phi,
        body: BodyRule,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
        let module = self.module;
        assert!(
            module.is_none() || access.clinic_permission().is_some(),
            "{method} {path}: only a clinic's staff or portal route belongs to a module"
        );
        let mut method_router = on(filter, handler);
        if method != Method::GET && method != Method::HEAD {
            method_router =
                method_router.route_layer(axum::middleware::from_fn(move |req: Request, next: Next| {
                    form_input::clean(body, req, next)
                }));
        }
        let method_router = match access {
            Access::Public | Access::Machine | Access::Probe => method_router,
            _ => method_router.route_layer(axum::middleware::from_fn(move |req: Request, next: Next| {
                require(access, module, req, next)
            })),
        };
        self.router = self.router.route(path, method_router);
        self.specs.push(RouteSpec { method, path, access, phi, background: false, body, module });
        self
    }

    /// Declares and adds a GET that a page calls by itself (see the module documentation).
    pub(crate) fn background_get<H, T>(
        mut self,
        path: &'static str,
        access: Access,
        phi: Phi,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self = self.route(Method::GET, path, access, phi, handler);
        if let Some(spec) = self.specs.last_mut() {
            spec.background = true;
        }
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

    /// A POST whose form has multi-line fields (free text such as a clinical note): only
    /// these may hold tabs and line breaks.
    pub fn post_multiline<H, T>(
        self,
        path: &'static str,
        access: Access,
        phi: Phi,
        multi_line: &'static [&'static str],
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.declare(Method::POST, path, access, phi, BodyRule::Form(multi_line), handler)
    }

    /// A POST whose body is not a form (a provider's webhook, proved by its signature):
    /// passed to the handler as it is.
    pub fn post_raw<H, T>(self, path: &'static str, access: Access, phi: Phi, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.declare(Method::POST, path, access, phi, BodyRule::Raw, handler)
    }

    /// Declares a link in the page header (see [`NavEntry`]).
    pub fn nav(mut self, label: &'static str, href: &'static str, audience: Audience, order: u16) -> Self {
        self.nav.push(NavEntry { label, href, audience, order, module: self.module });
        self
    }

    /// Declares a tab of the patient's chart (see [`ChartTab`]): the route pattern of
    /// its section, with `{patient_id}` where the patient's id goes.
    pub fn chart_tab(mut self, path: &'static str, label: &'static str, order: u16) -> Self {
        self.tabs.push(ChartTab { path, label, order });
        self
    }

    fn chart_tabs(&self) -> ChartTabs {
        let mut tabs = self.tabs.clone();
        tabs.sort_by_key(|t| (t.order, t.path));
        ChartTabs(Arc::new(tabs))
    }

    /// Declares that `path` serves `page` of the sign-in flow (see [`FlowPage`]).
    pub fn flow_page(mut self, page: FlowPage, path: &'static str) -> Self {
        self.flow.push((page, path));
        self
    }

    /// Every page of the sign-in flow, or which one no feature (or two) declared.
    pub fn flow_pages(&self) -> Result<FlowPages, String> {
        FlowPages::from_declared(&self.flow)
    }

    /// The header's entries, in order.
    pub(crate) fn navigation(&self) -> Navigation {
        let mut entries = self.nav.clone();
        entries.sort_by_key(|e| (e.order, e.label));
        Navigation(Arc::new(entries))
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.specs.extend(other.specs);
        self.nav.extend(other.nav);
        self.tabs.extend(other.tabs);
        self.flow.extend(other.flow);
        self.router = self.router.merge(other.router);
        self
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub(crate) fn background_routes(&self) -> RouteSet {
        RouteSet(Arc::new(
            self.specs.iter().filter(|s| s.background).map(|s| (s.method.clone(), s.path)).collect(),
        ))
    }

    /// The routes callers that are not people use (see [`Access::Machine`] and
    /// [`Access::Probe`]).
    pub(crate) fn machine_routes(&self) -> RouteSet {
        self.route_set(|access| matches!(access, Access::Machine | Access::Probe))
    }

    /// The health probes (see [`Access::Probe`]).
    pub(crate) fn probe_routes(&self) -> RouteSet {
        self.route_set(|access| access == Access::Probe)
    }

    fn route_set(&self, included: impl Fn(Access) -> bool) -> RouteSet {
        RouteSet(Arc::new(
            self.specs.iter().filter(|s| included(s.access)).map(|s| (s.method.clone(), s.path)).collect(),
        ))
    }

    /// The router, with the middleware that records function-level denials.
    pub(crate) fn into_router(self, state: &AppState) -> Router<AppState> {
        let tabs = self.chart_tabs();
        self.router.layer(from_fn_with_state((state.clone(), tabs), record_function_denials))
    }
}

/// Marks a response as a function-level refusal, for [`record_function_denials`]: what the
/// route asked for (a clinic permission or a platform role).
#[derive(Debug, Clone)]
struct FunctionDenied(String);

/// The principal a claimed context would have, for the function-level check (a proxy
/// with every scope: which scopes it really has is decided per request, in the
/// transaction).
pub fn claimed_principal(claim: ContextClaim) -> Principal {
    match claim {
        ContextClaim::Staff { role, .. } => Principal::Staff(role),
        ContextClaim::Patient { patient_id, .. } => Principal::Patient { patient_id },
        ContextClaim::Proxy { patient_id, .. } => Principal::Proxy {
            patient_id,
            scopes: ProxyScopes { clinical: true, billing: true, scheduling: true, messaging: true },
            expires_at: None,
        },
        ContextClaim::Platform { role: PlatformRole::SuperAdmin } => {
            Principal::SuperAdmin { break_glass: None }
        }
        ContextClaim::Platform { role: PlatformRole::Auditor } => Principal::Auditor,
        // The grant's real end is read in the transaction.
        ContextClaim::BreakGlass { patient_id, .. } => {
            Principal::SuperAdmin { break_glass: Some((patient_id, DateTime::<Utc>::MAX_UTC)) }
        }
    }
}

/// The sign-in page, remembering where the person was going (for htmx, the page they
/// were on).
fn to_sign_in(req: &Request, pages: &FlowPages) -> Response {
    let wanted = if wants_fragment(req.headers()) {
        req.headers()
            .get(HX_CURRENT_URL)
            .and_then(|v| v.to_str().ok())
            .and_then(|url| url::Url::parse(url).ok())
            .map(|url| match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            })
    } else if req.method() == Method::GET {
        req.uri().path_and_query().map(|pq| pq.as_str().to_owned())
    } else {
        None
    };
    let sign_in = pages.path(FlowPage::SignIn);
    let target = match wanted.as_deref().and_then(safe_return_path) {
        Some(path) => format!(
            "{sign_in}?next={}",
            url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
        ),
        None => sign_in.to_owned(),
    };
    redirect(req.headers(), &target)
}

async fn require(access: Access, module: Option<Module>, mut req: Request, next: Next) -> Response {
    let Some(state) = req.extensions().get::<AppState>().cloned() else {
        tracing::error!(error.kind = "wiring", "route access checked without the application state");
        return AppError::Internal.into_response();
    };
    let pages = &state.pages;
    let Some(auth) = req.extensions().get::<Authenticated>().cloned() else {
        return to_sign_in(&req, pages);
    };
    // Outside a clinic no tenant transaction re-checks the person: a disabled account or a
    // revoked platform role is refused here, on every such request (read with the session,
    // so no query of its own).
    if matches!(access, Access::FirstFactor | Access::SignedIn | Access::Platform(_)) {
        match auth.standing {
            Standing::Good => {}
            Standing::AccountClosed => {
                // The account closed meanwhile: its session ends here.
                if let Some(session) = req.extensions().get::<tower_sessions::Session>()
                    && let Err(error) = session::end(session).await
                {
                    return error.into_response();
                }
                return to_sign_in(&req, pages);
            }
            Standing::RoleRevoked => return AppError::ContextEnded.into_response(),
        }
    }
    // Acting as another member changes nothing of anyone's account (password, factors,
    // e-mail, sessions, contexts, consents) and opens nothing more: outside the clinic's
    // pages only reading, ending it, and signing out.
    if auth.impersonating.is_some()
        && matches!(access, Access::FirstFactor | Access::SignedIn | Access::Platform(_))
        && req.method() != Method::GET
        && ![pages.path(FlowPage::EndImpersonation), pages.path(FlowPage::SignOut)]
            .contains(&req.uri().path())
    {
        return AppError::Forbidden.into_response();
    }
    if access == Access::FirstFactor {
        return next.run(req).await;
    }
    if !auth.second_factor_satisfied {
        return redirect(req.headers(), pages.second_factor(auth.second_factor_enrolled));
    }
    match access {
        Access::Public | Access::Machine | Access::Probe | Access::FirstFactor | Access::SignedIn => {
            next.run(req).await
        }
        Access::Staff(permission) | Access::Portal(permission) => {
            if let Some(ContextClaim::Platform { .. }) = auth.context {
                // Platform work sees no clinic's pages (break-glass is the only way in).
                let mut response = AppError::Forbidden.into_response();
                response.extensions_mut().insert(FunctionDenied(format!("{permission:?}")));
                return response;
            }
            let Some(claim) = auth.context.filter(|c| c.organization_id().is_some()) else {
                return redirect(req.headers(), pages.path(FlowPage::ChooseContext));
            };
            if !auth.consents_accepted {
                return redirect(req.headers(), pages.path(FlowPage::Consent));
            }
            if access.serves(&claim) && policy::grants(claimed_principal(claim), permission) {
                // The tenant transaction checks the module against the clinic's modules as
                // they are now (the session's copy may be behind in either direction).
                if let Some(module) = module {
                    req.extensions_mut().insert(RouteModule(module));
                }
                next.run(req).await
            } else {
                let mut response = AppError::Forbidden.into_response();
                response.extensions_mut().insert(FunctionDenied(format!("{permission:?}")));
                response
            }
        }
        Access::Platform(role) => match auth.context {
            Some(ContextClaim::Platform { role: held }) if held == role => next.run(req).await,
            None => redirect(req.headers(), pages.path(FlowPage::ChooseContext)),
            Some(_) => {
                let mut response = AppError::Forbidden.into_response();
                response.extensions_mut().insert(FunctionDenied(format!("platform:{}", role.as_str())));
                response
            }
        },
    }
}

/// Writes the `authz_denied` event for a route refused by its declared access (no
/// transaction was opened for that request, so one is opened here).
async fn record_function_denials(
    State((state, tabs)): State<(AppState, ChartTabs)>,
    mut req: Request,
    next: Next,
) -> Response {
    // For `require`, which checks a person's standing on routes outside a clinic, and for
    // the chart frame (through `TenantTx`).
    req.extensions_mut().insert(state.clone());
    req.extensions_mut().insert(tabs);
    let auth = req.extensions().get::<Authenticated>().cloned();
    let request = request_meta(req.extensions(), req.headers());
    let response = next.run(req).await;
    let Some(FunctionDenied(asked)) = response.extensions().get::<FunctionDenied>().cloned() else {
        return response;
    };
    let Some((auth, claim)) = auth.and_then(|a| a.context.map(|c| (a, c))) else {
        return response;
    };
    let mut event = AuditEvent::denied("route", None, "role_lacks_permission");
    event.purpose = Some(asked);
    let Some(organization_id) = claim.organization_id() else {
        // A platform context: its refusal goes in the platform chain.
        event.details = serde_json::json!({ "reason": "role_lacks_permission", "role": claim_role(&claim) });
        let context = SystemContext { user_id: Some(auth.user_id), request };
        let recorded = async {
            let mut tx = begin_system(&state.db, &context).await?;
            crate::audit::record_platform(&mut tx, &context, &event).await?;
            tx.commit().await
        }
        .await;
        if let Err(error) = recorded {
            tracing::error!(error.kind = "audit", %error, "could not record a platform route's refusal");
        }
        return response;
    };
    let tenant = TenantContext {
        organization_id,
        user_id: Some(auth.user_id),
        actor_kind: ActorKind::User,
        role: Some(claim_role(&claim).to_owned()),
        acting_for: None,
        break_glass: None,
        request,
    };
    // A refusal showed nothing; a failure to record it is logged where it happens.
    let _ = record_after_rollback(&state.db, &tenant, &[event]).await;
    response
}
