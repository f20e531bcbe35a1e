//! Routes registered from their handlers' OpenAPI descriptions, with the description
//! itself built only when the document is asked for.
//!
//! utoipa-axum's `routes!` builds both at once: the axum route, and the handler's
//! whole OpenAPI operation with every schema it names. Done for every route at start,
//! the second was half the gateway's cold start (2.8 M of its 5.4 M instructions in
//! building the router; see `docs/benchmarks.md`), to serve a document that is asked
//! for rarely. [`api_routes!`] makes the axum route from the path and methods of the
//! handler's `#[utoipa::path]` (two constants), and keeps utoipa-axum's own `routes!`
//! to run when the document is first asked for: the routes still come from the
//! descriptions, and the document is the one utoipa-axum assembles.

use axum::Router;
use axum::routing::MethodRouter;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use super::Shared;

/// How to describe some routes: utoipa-axum's `routes!` over their handlers.
pub type Describe = fn() -> UtoipaMethodRouter<Shared>;

/// `api_routes!(handler, ...)`: the routes of handlers that share a path, for
/// [`ApiRoutes::routes`], as `utoipa_axum::routes!` takes them.
macro_rules! api_routes {
    ($($handler:ident),+ $(,)?) => {
        $crate::routes::documented::Routes::new(
            vec![$(
                utoipa_axum::paste! {{
                    let methods =
                        <[<__path_ $handler>] as utoipa::Path>::methods();
                    let router = methods.iter().fold(
                        axum::routing::MethodRouter::new(),
                        |router, method| {
                            router.on(utoipa_axum::PathItemExt::to_method_filter(method), $handler)
                        },
                    );
                    (<[<__path_ $handler>] as utoipa::Path>::path(), router)
                }}
            ),+],
            || utoipa_axum::routes!($($handler),+),
        )
    };
}

/// The routes of one `api_routes!`.
pub struct Routes {
    routes: Vec<(String, MethodRouter<Shared>)>,
    describe: Describe,
}

impl Routes {
    pub fn new(routes: Vec<(String, MethodRouter<Shared>)>, describe: Describe) -> Self {
        Self { routes, describe }
    }
}

/// The API's routes, and how to describe them. The routes of every module go into
/// one router at the end, rather than a router per module merged into the next.
#[derive(Default)]
pub struct ApiRoutes {
    routes: Vec<(String, MethodRouter<Shared>)>,
    described: Vec<Describe>,
}

impl ApiRoutes {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn routes(mut self, routes: Routes) -> Self {
        self.routes.extend(routes.routes);
        self.described.push(routes.describe);
        self
    }

    pub fn merge(mut self, other: Self) -> Self {
        self.routes.extend(other.routes);
        self.described.extend(other.described);
        self
    }

    pub fn into_parts(self) -> (Router<Shared>, Description) {
        let router =
            self.routes
                .into_iter()
                .fold(Router::new(), |router, (path, method_router)| {
                    // As utoipa-axum: the root is "/".
                    let path = if path.is_empty() { "/" } else { &path };
                    router.route(path, method_router)
                });
        (router, Description(self.described))
    }
}

/// What builds the API's OpenAPI document.
#[derive(Clone)]
pub struct Description(Vec<Describe>);

impl Description {
    /// The document: `base`, with every route's description added in the order the
    /// routes were, as utoipa-axum's router adds them.
    pub fn document(&self, base: OpenApi) -> OpenApi {
        self.0
            .iter()
            .fold(
                OpenApiRouter::<Shared>::with_openapi(base),
                |router, describe| router.routes(describe()),
            )
            .split_for_parts()
            .1
    }
}
