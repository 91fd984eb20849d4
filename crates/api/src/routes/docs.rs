//! The OpenAPI document and the interactive docs (Swagger UI, served from
//! assets embedded at build time: no CDN).

use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::IntoResponse;

/// The serialised OpenAPI document, rendered once at start-up.
#[derive(Clone)]
pub struct SpecJson(pub Arc<String>);

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json(Extension(spec): Extension<SpecJson>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        spec.0.as_str().to_owned(),
    )
}

pub fn swagger_ui() -> utoipa_swagger_ui::SwaggerUi {
    // Swagger UI's default validator badge would send the spec's URL to an
    // external service (and be blocked by the docs CSP anyway): off.
    utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::new(["/api/v1/openapi.json"]).validator_url("none"))
}
