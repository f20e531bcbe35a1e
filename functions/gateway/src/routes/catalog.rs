//! The product catalog: public, cacheable, revalidated with ETags.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use service_kit::Problem;
use service_kit::extract::{Path, Query};
use sha2::{Digest, Sha256};

use super::{ApiRoutes, PageParams, Shared, page_query, path_id};
use crate::downstream::Service;
use crate::models::{Product, ProductPage};
use crate::openapi::ProblemDoc;

/// Shared caches may keep a catalog answer this long; stock changes, so not longer.
const CACHE_CONTROL: &str = "public, max-age=5, stale-while-revalidate=30";

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(list_products))
        .routes(api_routes!(get_product))
}

/// Lists the catalog in SKU order.
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(PageParams),
    responses(
        (status = 200, description = "A page of products", body = ProductPage,
            headers(("etag" = String, description = "Entity tag for If-None-Match"))),
        (status = 304, description = "Not modified since the given ETag"),
    ))]
async fn list_products(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<PageParams>,
) -> Result<Response, Problem> {
    let query = page_query(params.limit, params.cursor.as_deref())?;
    let page: ProductPage = state
        .services
        .get(Service::INVENTORY, &format!("/products{query}"))
        .await?;
    Ok(cacheable(&headers, &page))
}

/// One product with its stock.
#[utoipa::path(get, path = "/v1/products/{sku}", tag = "catalog",
    params(("sku" = String, Path, description = "The product's SKU")),
    responses(
        (status = 200, description = "The product", body = Product,
            headers(("etag" = String, description = "Entity tag for If-None-Match"))),
        (status = 304, description = "Not modified since the given ETag"),
        (status = 404, description = "No such product", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_product(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(sku): Path<String>,
) -> Result<Response, Problem> {
    let sku = path_id(&sku, "product")?;
    let product: Product = state
        .services
        .get(Service::INVENTORY, &format!("/products/{sku}"))
        .await?;
    Ok(cacheable(&headers, &product))
}

/// The JSON of `body` with a strong ETag over its bytes, or 304 when the client has it.
fn cacheable(request: &HeaderMap, body: &impl Serialize) -> Response {
    let bytes = match serde_json::to_vec(body) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "cannot serialise a catalog answer");
            return Problem::internal().into_response();
        }
    };
    let etag = format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(&Sha256::digest(&bytes)[..16])
    );
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| {
            let candidate = candidate.trim();
            candidate == "*" || candidate.trim_start_matches("W/") == etag
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}
