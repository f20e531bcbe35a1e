//! Administration: the catalog, the services' failure modes (the demo's switchboard)
//! and the saga workers' circuit breakers.

use axum::extract::State;
use axum::http::StatusCode;
use reqwest::Method;
use service_kit::Problem;
use service_kit::extract::{Json, Path};
use service_kit::services;

use super::{ApiRoutes, Shared, path_id};
use crate::auth::Admin;
use crate::downstream::Service;
use crate::models::{Breaker, FailureMode, NewProduct, Product, ProductChange, StockLevel};
use crate::openapi::ProblemDoc;

pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
        .routes(api_routes!(create_product))
        .routes(api_routes!(update_product))
        .routes(api_routes!(set_stock))
        .routes(api_routes!(get_failure_mode, set_failure_mode))
        .routes(api_routes!(breakers))
}

/// Adds a product to the catalog.
#[utoipa::path(post, path = "/v1/admin/products", tag = "admin", security(("bearer" = [])), request_body = NewProduct,
    responses(
        (status = 201, description = "Created", body = Product),
        (status = 403, description = "Not an administrator", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The SKU exists with other details", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn create_product(
    State(state): State<Shared>,
    _admin: Admin,
    Json(body): Json<NewProduct>,
) -> Result<(StatusCode, Json<Product>), Problem> {
    let product = state
        .services
        .send(Service::INVENTORY, Method::POST, "/products", Some(&body))
        .await?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Changes a product's name, description or price.
#[utoipa::path(patch, path = "/v1/admin/products/{sku}", tag = "admin", security(("bearer" = [])),
    params(("sku" = String, Path, description = "The product's SKU")), request_body = ProductChange,
    responses(
        (status = 200, description = "Updated", body = Product),
        (status = 404, description = "No such product", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn update_product(
    State(state): State<Shared>,
    _admin: Admin,
    Path(sku): Path<String>,
    Json(body): Json<ProductChange>,
) -> Result<Json<Product>, Problem> {
    let sku = path_id(&sku, "product")?;
    let path = format!("/products/{sku}");
    Ok(Json(
        state
            .services
            .send(Service::INVENTORY, Method::PATCH, &path, Some(&body))
            .await?,
    ))
}

/// Sets the units of a product available for ordering.
#[utoipa::path(put, path = "/v1/admin/products/{sku}/stock", tag = "admin", security(("bearer" = [])),
    params(("sku" = String, Path, description = "The product's SKU")), request_body = StockLevel,
    responses(
        (status = 200, description = "Updated", body = Product),
        (status = 404, description = "No such product", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn set_stock(
    State(state): State<Shared>,
    _admin: Admin,
    Path(sku): Path<String>,
    Json(body): Json<StockLevel>,
) -> Result<Json<Product>, Problem> {
    let sku = path_id(&sku, "product")?;
    let path = format!("/products/{sku}/stock");
    Ok(Json(
        state
            .services
            .send(Service::INVENTORY, Method::PUT, &path, Some(&body))
            .await?,
    ))
}

fn service(name: &str) -> Result<Service, Problem> {
    Service::parse(name).ok_or_else(|| {
        let names: Vec<_> = services::called_by("gateway")
            .map(|(name, _)| name)
            .collect();
        Problem::not_found(format!("Services are {}.", names.join(", ")))
    })
}

/// A service's failure mode.
#[utoipa::path(get, path = "/v1/admin/services/{service}/failure-mode", tag = "admin", security(("bearer" = [])),
    params(("service" = String, Path, description = "customer, inventory, order, payment or notification")),
    responses(
        (status = 200, description = "The mode in force", body = FailureMode),
        (status = 404, description = "No such service", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn get_failure_mode(
    State(state): State<Shared>,
    _admin: Admin,
    Path(name): Path<String>,
) -> Result<Json<FailureMode>, Problem> {
    Ok(Json(
        state
            .services
            .get(service(&name)?, "/admin/failure-mode")
            .await?,
    ))
}

/// Makes a service down, slow or flaky (or, for payment, declining), or normal again.
#[utoipa::path(put, path = "/v1/admin/services/{service}/failure-mode", tag = "admin", security(("bearer" = [])),
    params(("service" = String, Path, description = "customer, inventory, order, payment or notification")),
    request_body = FailureMode,
    responses(
        (status = 200, description = "The mode now in force", body = FailureMode),
        (status = 422, description = "Unknown mode or parameters", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn set_failure_mode(
    State(state): State<Shared>,
    _admin: Admin,
    Path(name): Path<String>,
    Json(body): Json<FailureMode>,
) -> Result<Json<FailureMode>, Problem> {
    let service = service(&name)?;
    Ok(Json(
        state
            .services
            .send(service, Method::PUT, "/admin/failure-mode", Some(&body))
            .await?,
    ))
}

/// The saga workers' circuit breakers, one per service, as the running workers report
/// them (none while no worker runs).
#[utoipa::path(get, path = "/v1/admin/breakers", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "The breakers", body = [Breaker]),
        (status = 503, description = "The breaker states are unavailable", body = ProblemDoc, content_type = "application/problem+json"),
    ))]
async fn breakers(
    State(state): State<Shared>,
    _admin: Admin,
) -> Result<Json<Vec<Breaker>>, Problem> {
    Ok(Json(state.breakers.current().await?))
}
