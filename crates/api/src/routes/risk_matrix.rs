//! The tenant's risk matrix: axes, level thresholds, required mitigations,
//! review intervals and the rating/likelihood mappings, as data.

use axum::extract::State;
use isms_domain::risk::RiskMatrixSpec;
use serde::Deserialize;

use crate::access::{Auth, Meta};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The request body: a whole matrix, validated by the domain (axes of 2 to
/// 10 levels, thresholds rising within the score range, every mapping on
/// the axes).
#[derive(Deserialize, garde::Validate)]
#[serde(transparent)]
pub struct MatrixBody(#[garde(skip)] pub RiskMatrixSpec);

/// The matrix the tenant is assessed on (the 4 × 5 default until it sets
/// one).
#[utoipa::path(
    get,
    path = "/api/v1/risk/matrix",
    operation_id = "get_risk_matrix",
    tag = "risk",
    security(("bearer" = [])),
    responses((status = 200, description = "The matrix", body = Object))
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<axum::Json<RiskMatrixSpec>> {
    Ok(axum::Json(state.risk.matrix_spec(&who).await?))
}

/// Replace the tenant's matrix (admin). It applies from the next
/// assessment, new exposure or treatment on; stored scores change when
/// their asset is next assessed.
#[utoipa::path(
    put,
    path = "/api/v1/risk/matrix",
    operation_id = "put_risk_matrix",
    tag = "risk",
    security(("bearer" = [])),
    request_body(content = Object, description = "The whole matrix, as `GET` returns it"),
    responses(
        (status = 200, description = "The stored matrix", body = Object),
        (status = 422, description = "An invalid matrix", body = ErrorBody)
    )
)]
pub async fn put(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(MatrixBody(spec)): Json<MatrixBody>,
) -> ApiResult<axum::Json<RiskMatrixSpec>> {
    Ok(axum::Json(state.risk.put_matrix(&who, spec, &meta).await?))
}
