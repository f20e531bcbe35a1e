//! The published OpenAPI document: 3.1, every route in it, and every route in it real.

use serde_json::Value;
use service_kit::testing::Method;

use crate::support::Stack;

/// The routes the API promises (issue: auth, catalog, profile, orders, notifications,
/// events, admin, the codec endpoint of the Temporal Web UI, and the operations page).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
    ("post", "/v1/auth/logout-everywhere"),
    ("post", "/v1/auth/password"),
    ("get", "/v1/products"),
    ("get", "/v1/products/{sku}"),
    ("get", "/v1/me"),
    ("patch", "/v1/me"),
    ("post", "/v1/orders"),
    ("get", "/v1/orders"),
    ("get", "/v1/orders/{order_id}"),
    ("post", "/v1/orders/{order_id}/cancel"),
    ("get", "/v1/admin/reviews"),
    ("post", "/v1/admin/reviews/{order_id}/approve"),
    ("post", "/v1/admin/reviews/{order_id}/reject"),
    ("get", "/v1/notifications"),
    ("post", "/v1/notifications/{id}/read"),
    ("get", "/v1/events"),
    ("post", "/v1/events/ticket"),
    ("post", "/v1/admin/products"),
    ("patch", "/v1/admin/products/{sku}"),
    ("put", "/v1/admin/products/{sku}/stock"),
    ("get", "/v1/admin/services/{service}/failure-mode"),
    ("put", "/v1/admin/services/{service}/failure-mode"),
    ("get", "/v1/admin/breakers"),
    ("get", "/v1/admin/attention"),
    ("post", "/v1/admin/attention/{order_id}/retry"),
    ("get", "/v1/admin/operations"),
    ("post", "/v1/admin/operations/load"),
    ("post", "/v1/admin/codec/decode"),
    ("post", "/v1/admin/codec/encode"),
];

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_every_route() {
    let stack = Stack::start().await;
    let document = stack.gateway.get("/v1/openapi.json").await.expect(200);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    for (method, path) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    let documented: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |m| m.len()))
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "undocumented extras or missing routes"
    );
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    assert!(document["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn every_documented_route_exists() {
    let stack = Stack::start().await;
    let document = stack.gateway.get("/v1/openapi.json").await.expect(200);
    for (path, methods) in document["paths"].as_object().expect("paths") {
        let concrete = path
            .replace("{sku}", "X")
            .replace("{order_id}", "X")
            .replace("{id}", "1")
            .replace("{service}", "inventory");
        for method in methods.as_object().expect("methods").keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let reply = stack
                .gateway
                .send(method.clone(), &concrete, Some(Value::Null))
                .await;
            // Whatever the answer (401, 400, 422...), it is not "no such route".
            let unrouted = reply.status == 405
                || (reply.status == 404 && reply.body["detail"] == "There is no such resource.");
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed: {reply:#?}"
            );
        }
    }
}
