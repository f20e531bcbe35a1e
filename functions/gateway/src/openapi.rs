//! The OpenAPI 3.1 document, assembled from the handlers' own descriptions.

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, ToSchema};

/// An RFC 9457 problem, as every error of this API is sent
/// (`application/problem+json`).
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
pub struct ProblemDoc {
    /// A stable identifier to switch on, e.g. `/problems/out-of-stock`.
    #[schema(rename = "type")]
    r#type: String,
    title: String,
    status: u16,
    detail: Option<String>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Order saga shop API",
        description = "The public API of the order-saga reference implementation. Errors are RFC 9457 problems.",
        version = "1.0.0"
    ),
    components(schemas(ProblemDoc)),
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

#[cfg(test)]
mod tests {
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
