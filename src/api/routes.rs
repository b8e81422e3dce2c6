//! Route tables that can be listed: each API's routes are a [`Table`] of resources, each route an
//! [`Op`] made by [`op!`] from a method and a handler, which carries the actix route and the
//! OpenAPI operation of the handler's `#[utoipa::path]` together. A table registers itself on an
//! actix `ServiceConfig` (as `web::scope(…).service(resource(…).route(…))` would), lists its
//! `(method, path pattern)` pairs for [`super::route_list`], and gives its part of the OpenAPI
//! document, so a route cannot be registered without documentation and the coverage test can
//! compare what the router serves with what the document names.

use actix_web::http::Method;
use actix_web::web::{self, ServiceConfig};
use actix_web::Route;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::OpenApi;

/// One method of a resource: the actix route that serves it and the OpenAPI document of its
/// handler (from `#[utoipa::path]`: the path, methods and operation, and the schemas it uses).
pub struct Op {
    method: Method,
    route: Route,
    doc: fn() -> OpenApi,
}

impl Op {
    /// Use [`op!`] rather than this.
    pub fn new(method: &str, route: Route, doc: fn() -> OpenApi) -> Self {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .expect("an HTTP method name");
        Self { method, route, doc }
    }
}

/// `op!(get, handler)`: the route `web::get().to(handler)` with the `#[utoipa::path]` document
/// of `handler` (which must have one: the route does not compile without it).
macro_rules! op {
    ($method:ident, $($handler:ident)::+) => {{
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($handler)::+))]
        struct Doc;
        $crate::api::routes::Op::new(
            stringify!($method),
            actix_web::web::$method().to($($handler)::+),
            <Doc as utoipa::OpenApi>::openapi,
        )
    }};
}
pub(crate) use op;

struct Resource {
    path: String,
    ops: Vec<Op>,
    /// Registered under a prefix of the documented path: (prefix, operation id suffix).
    mirror: Option<(&'static str, &'static str)>,
}

/// The routes of one API: resources under an optional scope, how each resource is made (e.g.
/// with a `405` default service), the scope's default service, and what every operation of the
/// API shares in the document (tag, security, parameters, error answers).
pub struct Table {
    scope: Option<&'static str>,
    make: fn(&str) -> actix_web::Resource,
    resources: Vec<Resource>,
    default: Option<Route>,
    shared: fn(&mut Operation),
}

impl Table {
    /// Resources registered under `web::scope(prefix)`.
    pub fn scope(prefix: &'static str, make: fn(&str) -> actix_web::Resource) -> Self {
        Self {
            scope: Some(prefix),
            ..Self::root(make)
        }
    }

    /// Resources registered at the application's root.
    pub fn root(make: fn(&str) -> actix_web::Resource) -> Self {
        Self {
            scope: None,
            make,
            resources: Vec::new(),
            default: None,
            shared: |_| {},
        }
    }

    /// A resource at `path` (under the scope) with its methods.
    pub fn at(mut self, path: &'static str, ops: impl IntoIterator<Item = Op>) -> Self {
        self.resources.push(Resource {
            path: path.to_owned(),
            ops: ops.into_iter().collect(),
            mirror: None,
        });
        self
    }

    /// The same handlers as a resource at `path` again, under `prefix` (e.g. the helpdesk's
    /// user calls of `default` at `/users…` also at `/tenants/{tenant}/users…` for any tenant):
    /// documented at the prefixed path, with the prefix's path parameters added (as strings) and
    /// `id_suffix` appended to each operation id.
    pub fn at_under(
        mut self,
        prefix: &'static str,
        id_suffix: &'static str,
        path: &'static str,
        ops: impl IntoIterator<Item = Op>,
    ) -> Self {
        self.resources.push(Resource {
            path: format!("{prefix}{path}"),
            ops: ops.into_iter().collect(),
            mirror: Some((prefix, id_suffix)),
        });
        self
    }

    /// The scope's default service (a path under the scope that no resource matches).
    pub fn default_service(mut self, route: Route) -> Self {
        self.default = Some(route);
        self
    }

    /// What every operation of this table shares in the document.
    pub fn shared(mut self, apply: fn(&mut Operation)) -> Self {
        self.shared = apply;
        self
    }

    /// Adds the resources (in their order, under the scope if there is one) to `cfg`.
    pub fn register(self, cfg: &mut ServiceConfig) {
        let make = self.make;
        let resources = self.resources.into_iter().map(|r| {
            r.ops
                .into_iter()
                .fold(make(&r.path), |resource, op| resource.route(op.route))
        });
        match self.scope {
            Some(prefix) => {
                let mut scope = resources.fold(web::scope(prefix), |s, r| s.service(r));
                if let Some(default) = self.default {
                    scope = scope.default_service(default);
                }
                cfg.service(scope);
            }
            None => {
                for resource in resources {
                    cfg.service(resource);
                }
            }
        }
    }

    /// `(method, full path pattern)` of every route, in registration order.
    pub fn list(&self) -> Vec<(Method, String)> {
        let prefix = self.scope.unwrap_or_default();
        self.resources
            .iter()
            .flat_map(|r| {
                r.ops
                    .iter()
                    .map(move |op| (op.method.clone(), format!("{prefix}{}", r.path)))
            })
            .collect()
    }

    /// The document of this table's operations (paths and the schemas they use), each operation
    /// with what the table's operations share.
    pub fn openapi(&self) -> OpenApi {
        let mut doc = OpenApi::default();
        let scope = self.scope.unwrap_or_default();
        for r in &self.resources {
            for op in &r.ops {
                let mut part = (op.doc)();
                if let Some((prefix, suffix)) = r.mirror {
                    mirror(&mut part, &format!("{scope}{prefix}"), scope, suffix);
                }
                for item in part.paths.paths.values_mut() {
                    operations_mut(item).for_each(self.shared);
                }
                merge(&mut doc, part);
            }
        }
        doc
    }
}

/// `doc.merge(part)`, which keeps the first of two schemas of one name: two different schemas
/// under one name (two wire types named alike) are a mistake the tests must catch.
pub fn merge(doc: &mut OpenApi, part: OpenApi) {
    if let (Some(ours), Some(theirs)) = (&doc.components, &part.components) {
        for (name, schema) in &theirs.schemas {
            debug_assert!(
                ours.schemas.get(name).is_none_or(|s| s == schema),
                "two different schemas are named {name}: rename one wire type"
            );
        }
    }
    doc.merge(part);
}

/// Moves every path of `part` (under `scope`) under `prefix`, declares the prefix's `{name}`
/// path parameters, and makes its operation ids unique with `suffix`.
fn mirror(part: &mut OpenApi, prefix: &str, scope: &str, suffix: &str) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, RefOr, Required, Type};
    let names: Vec<&str> = prefix
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect();
    let paths = std::mem::take(&mut part.paths.paths);
    for (path, mut item) in paths {
        let rest = path.strip_prefix(scope).unwrap_or(&path);
        for op in operations_mut(&mut item) {
            if let Some(id) = &mut op.operation_id {
                id.push_str(suffix);
            }
            let params = op.parameters.get_or_insert_with(Vec::new);
            for name in names.iter().rev() {
                let declared = params
                    .iter()
                    .any(|p| matches!(p, RefOr::T(p) if p.name == *name));
                if !declared {
                    params.insert(
                        0,
                        RefOr::T(
                            ParameterBuilder::new()
                                .name(*name)
                                .parameter_in(ParameterIn::Path)
                                .required(Required::True)
                                .description(Some(
                                    "The tenant's id (`default` for the built-in one)",
                                ))
                                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                                .build(),
                        ),
                    );
                }
            }
        }
        part.paths.paths.insert(format!("{prefix}{rest}"), item);
    }
}

/// Every operation of a path item.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}
