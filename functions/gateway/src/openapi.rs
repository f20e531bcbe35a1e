//! The OpenAPI 3.1 document, assembled from the handlers' own descriptions.

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr, Type};
use utoipa::{Modify, ToSchema};

/// An RFC 9457 problem, as every error of this API is sent
/// (`application/problem+json`).
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct ProblemDoc {
    /// A stable identifier to switch on, e.g. `/problems/out-of-stock`: for a service's
    /// business refusal, `/problems/` and a [`saga_contract::Refusal`].
    #[schema(rename = "type")]
    r#type: String,
    title: String,
    status: u16,
    detail: Option<String>,
    /// `out-of-stock` only: the lines the stock cannot cover.
    shortages: Option<Vec<crate::models::Shortage>>,
    /// A refused checkout's order (cancelled).
    order_id: Option<String>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Order saga shop API",
        description = "The public API of the order-saga reference implementation. Errors are RFC 9457 problems.",
        version = "1.0.0"
    ),
    // The business refusals a checkout can answer with, as the problem type's slug.
    components(schemas(ProblemDoc, saga_contract::Refusal)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "catalog", description = "Products and stock"),
        (name = "profile", description = "The caller's profile"),
        (name = "orders", description = "Orders and their sagas"),
        (name = "notifications", description = "The caller's event feed"),
        (name = "events", description = "Real-time events"),
        (name = "admin", description = "Administration"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .build(),
                ),
            );
        }
    }
}

/// The answers that come from the layers every request passes rather than from a
/// handler: `(status, component name, description)`. Each operation lists those that
/// can reach it (see [`common_statuses`]).
const COMMON_RESPONSES: [(&str, &str, &str); 8] = [
    (
        "400",
        "BadRequest",
        "Malformed JSON, or an invalid query, path or header parameter",
    ),
    ("401", "Unauthorized", "No valid access token"),
    (
        "403",
        "Forbidden",
        "The caller lacks the role this operation needs",
    ),
    ("413", "PayloadTooLarge", "The body is larger than 64 KiB"),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not sent as `application/json`",
    ),
    (
        "422",
        "ValidationFailed",
        "The body does not describe a valid request",
    ),
    (
        "429",
        "TooManyRequests",
        "Rate limited: retry after `Retry-After` seconds",
    ),
    (
        "503",
        "Unavailable",
        "A service or store the request needs is unavailable: retry later",
    ),
];

/// Adds to every operation of `document` the statuses the shared layers answer (the
/// authentication, the rate limiter, the JSON extractor, a downstream outage), unless
/// the operation describes them itself, so that the document states every status the
/// API can send. Runs on the assembled document, after the routes' paths are merged.
pub fn add_common_responses(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    for (status, name, description) in COMMON_RESPONSES {
        components.responses.insert(
            name.to_owned(),
            RefOr::T(problem_response(status, description)),
        );
    }
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let statuses = common_statuses(path, operation);
            for (status, name, _) in COMMON_RESPONSES {
                if statuses.contains(&status) {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
}

/// Which of the [`COMMON_RESPONSES`] can reach `operation` at `path`.
fn common_statuses(path: &str, operation: &Operation) -> Vec<&'static str> {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut statuses = vec!["429", "503"];
    if has_body || has_parameters {
        statuses.push("400");
    }
    if secured {
        statuses.push("401");
    }
    if path.starts_with("/v1/admin/") {
        statuses.push("403");
    }
    if has_body {
        statuses.extend(["413", "415", "422"]);
    }
    statuses
}

fn problem_response(status: &str, description: &str) -> Response {
    let problem = ResponseBuilder::new().description(description).content(
        "application/problem+json",
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
    if status == "429" {
        let seconds = Header::new(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer));
        problem.header("retry-after", seconds).build()
    } else {
        problem.build()
    }
}

#[cfg(test)]
mod tests {
    use saga_contract::calls::{MAX_LINE_QUANTITY, MAX_ORDER_LINES};
    use service_kit::failure::MAX_DELAY_MS;
    use service_kit::pagination::MAX_LIMIT;
    use service_kit::validate::MAX_AMOUNT;

    /// The limits are literals in the schema attributes (utoipa takes no constants):
    /// they must be the ones the code enforces.
    #[test]
    fn the_documented_limits_are_the_enforced_ones() {
        let document = serde_json::to_value(crate::openapi_document()).expect("serialisable");
        let schema = |name: &str| &document["components"]["schemas"][name]["properties"];
        let line = schema("PlaceOrderLine");
        assert_eq!(line["quantity"]["maximum"], MAX_LINE_QUANTITY);
        assert_eq!(schema("PlaceOrder")["lines"]["maxItems"], MAX_ORDER_LINES);
        assert_eq!(schema("NewProduct")["price"]["maximum"], MAX_AMOUNT);
        assert_eq!(schema("ProductChange")["price"]["maximum"], MAX_AMOUNT);
        assert_eq!(schema("FailureMode")["delay_ms"]["maximum"], MAX_DELAY_MS);
        let orders = &document["paths"]["/v1/orders"]["get"]["parameters"];
        let limit = orders
            .as_array()
            .and_then(|params| params.iter().find(|p| p["name"] == "limit"))
            .expect("a limit parameter");
        assert_eq!(limit["schema"]["maximum"], MAX_LIMIT);
    }

    /// The UI's typed client is generated from `frontend/openapi.json`: it must be the
    /// document the gateway serves.
    #[test]
    fn the_ui_client_was_generated_from_the_current_document() {
        let committed: serde_json::Value =
            serde_json::from_str(include_str!("../../../frontend/openapi.json"))
                .expect("valid JSON");
        let current = serde_json::to_value(crate::openapi_document()).expect("serialisable");
        assert!(
            committed == current,
            "the API changed: run `npm run gen:api` in frontend/ and commit the result"
        );
    }
}
