//! The OpenAPI document's frame; paths are added by the route table.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "isms",
        description = "Information-security management server for ISO/IEC 27001. \
Every error response is `{\"code\",\"message\",\"request_id\",\"details\"?}`; \
request bodies over 64 KiB get 413, non-JSON bodies 415, malformed JSON 400 `invalid_json`, \
schema or rule violations (including unknown fields) 422 `validation_failed`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness probes"),
        (name = "meta", description = "The API description itself")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}
