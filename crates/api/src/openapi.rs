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
        (name = "meta", description = "The API description itself"),
        (name = "audit", description = "The tamper-evident audit log: entries, signed checkpoints, RFC 9162 proofs, verification"),
        (name = "crypto", description = "Envelope encryption for tenant applications, and key management"),
        (name = "compliance", description = "The compliance monitor: automated checks, status and score, history, access reviews"),
        (name = "gdpr", description = "GDPR records: consents and other lawful bases, retention, data-subject requests and exports"),
        (name = "alerts", description = "Security alerts raised by critical audit entries, and their webhook deliveries"),
        (name = "risk", description = "Risk management: asset inventory, threats, vulnerabilities, exposures, assessments, the register and treatments")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Adds the error responses every operation can produce (from the shared
/// extractors and middleware) to each operation that does not already
/// document them, so clients see the whole error model per route.
pub fn add_standard_error_responses(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;

    for item in spec.paths.paths.values_mut() {
        let ops = [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.patch.as_mut(),
            item.delete.as_mut(),
        ];
        for op in ops.into_iter().flatten() {
            let mut codes: Vec<(&str, &str)> = vec![
                (
                    "500",
                    "`internal_error`: the server failed; no detail is given",
                ),
                (
                    "504",
                    "`timeout`: the request exceeded the server's deadline",
                ),
            ];
            if op.request_body.is_some() {
                codes.extend([
                    ("400", "`invalid_json`: the body is not valid JSON"),
                    ("413", "`payload_too_large`: the body is over 64 KiB"),
                    ("415", "`unsupported_media_type`: the body is not application/json"),
                    ("422", "`validation_failed`: the body breaks the schema or a rule (unknown fields included); see `details.fields`"),
                ]);
            }
            let has_path_params = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Path))
            });
            if has_path_params && op.request_body.is_none() {
                codes.push(("400", "`invalid_path`: a path parameter is malformed"));
            }
            let secured = op
                .security
                .as_ref()
                .is_some_and(|reqs| reqs.iter().any(|r| *r != Default::default()));
            if secured {
                codes.extend([
                    (
                        "401",
                        "`unauthenticated`: missing, invalid or expired access token",
                    ),
                    (
                        "403",
                        "`forbidden`: the caller lacks the permission this route requires",
                    ),
                ]);
            }
            for (code, description) in codes {
                op.responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| error_response(description));
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}
