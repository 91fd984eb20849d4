//! The tenant's contextual access policy.

use axum::extract::State;
use isms_domain::access_policy::AccessPolicy;

use crate::access::{Auth, Meta};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The request body: the policy itself, validated by the domain.
#[derive(serde::Deserialize, garde::Validate)]
#[serde(transparent)]
pub struct PolicyBody(#[garde(skip)] pub AccessPolicy);

/// The tenant's access policy: per-role source networks and hours, and the
/// roles that must use MFA.
#[utoipa::path(
    get,
    path = "/api/v1/tenant/access-policy",
    operation_id = "get_access_policy",
    tag = "tenant",
    security(("bearer" = [])),
    responses((status = 200, description = "The policy (empty when none is set)", body = Object))
)]
pub async fn get(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<AccessPolicy>> {
    Ok(Json(state.policy.get(&who).await?))
}

/// Replace the tenant's access policy (sensitive: needs MFA step-up).
///
/// A policy that would deny the request setting it is refused (422
/// `would_lock_out_caller`).
#[utoipa::path(
    put,
    path = "/api/v1/tenant/access-policy",
    operation_id = "put_access_policy",
    tag = "tenant",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{\"mfa_required_roles\":[\"admin\"],\"roles\":{\"analyst\":{\"allowed_cidrs\":[\"10.0.0.0/8\"],\"allowed_hours\":{\"time_zone\":\"Europe/Berlin\",\"weekdays\":[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"],\"from\":\"08:00\",\"to\":\"18:00\"}}}}`"),
    responses(
        (status = 200, description = "Stored", body = Object),
        (status = 403, description = "`mfa_step_up_required` or `mfa_enrollment_required`", body = ErrorBody),
        (status = 422, description = "Invalid policy", body = ErrorBody)
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(PolicyBody(policy)): Json<PolicyBody>,
) -> ApiResult<Json<AccessPolicy>> {
    Ok(Json(state.policy.put(&who, policy, &meta).await?))
}
