//! Request metrics of the gateway as served off Lambda: `GET /metrics` in the Prometheus
//! text format, each route under its template, never its ids.

use crate::support::Stack;

#[tokio::test]
async fn metrics_list_the_gateway_routes_by_template_after_requests() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let api = &stack.gateway;
    api.get("/v1/products/MUG").await.expect(200);
    api.get("/v1/products/NO-SUCH-SKU").await.expect(404);

    let response = api
        .http
        .get(format!("{}/metrics", api.base_url))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ASCII");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("a body");

    let series = |status: &str| {
        text.lines()
            .filter(|line| line.starts_with("http_requests_total{"))
            .filter(|line| line.contains(r#"service="gateway""#))
            .filter(|line| line.contains(r#"route="/v1/products/{sku}""#))
            .filter(|line| line.contains(r#"method="GET""#))
            .filter(|line| line.contains(&format!(r#"status="{status}""#)))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // One series per template and status (its count is shared with the other tests
    // of this process, which use the same recorder).
    assert_eq!(series("200").len(), 1, "{text}");
    assert_eq!(series("404").len(), 1, "{text}");
    assert!(!text.contains("NO-SUCH-SKU"), "ids became labels: {text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
}
