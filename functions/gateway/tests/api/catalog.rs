//! The public catalog, revalidated with ETags.

use service_kit::testing::Api;

use crate::support::Stack;

async fn get_with(
    api: &Api,
    path: &str,
    etag: Option<&str>,
) -> (u16, Option<String>, Option<String>) {
    let mut request = api.http.get(format!("{}{path}", api.base_url));
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.expect("reachable");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    (
        response.status().as_u16(),
        header("etag"),
        header("cache-control"),
    )
}

#[tokio::test]
async fn the_catalog_is_public_and_revalidates_with_etags() {
    let stack = Stack::start().await;
    stack.add_product("MUG", 10, 1250).await;
    let api = &stack.gateway;

    let page = api.get("/v1/products").await.expect(200);
    assert_eq!(page["items"][0]["sku"], "MUG");
    assert_eq!(page["items"][0]["price"], 1250);

    let (status, etag, cache_control) = get_with(api, "/v1/products/MUG", None).await;
    assert_eq!(status, 200);
    let etag = etag.expect("an ETag");
    assert!(cache_control.is_some_and(|c| c.contains("max-age")));
    let (status, same, _) = get_with(api, "/v1/products/MUG", Some(&etag)).await;
    assert_eq!((status, same.as_deref()), (304, Some(etag.as_str())));

    // A change of stock is a new representation.
    stack
        .services
        .inventory
        .put("/products/MUG/stock", serde_json::json!({"available": 9}))
        .await
        .expect(200);
    let (status, changed, _) = get_with(api, "/v1/products/MUG", Some(&etag)).await;
    assert_eq!(status, 200);
    assert_ne!(changed.as_deref(), Some(etag.as_str()));

    api.get("/v1/products/NOPE")
        .await
        .expect_problem(404, "not-found");
    api.get("/v1/products?limit=0")
        .await
        .expect_problem(400, "bad-request");
    api.get("/v1/products?cursor=%7B%7D")
        .await
        .expect_problem(400, "bad-request");
}
