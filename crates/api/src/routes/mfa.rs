//! TOTP multi-factor authentication: enrolment, the second step of a
//! login, step-up for sensitive actions, and removal.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Auth, Meta};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use crate::routes::auth::TokenResponse;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct EnrollResponse {
    /// Base32 secret for manual entry; shown once.
    pub secret: String,
    /// `otpauth://` URI for a QR code; shown once.
    pub otpauth_uri: String,
}

/// Start TOTP enrolment: a new secret, pending until confirmed.
///
/// Calling it again before confirming replaces the pending secret.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa/totp/enroll",
    tag = "mfa",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Secret and URI (shown once)", body = EnrollResponse),
        (status = 409, description = "`conflict`: MFA is already active", body = ErrorBody)
    )
)]
pub async fn enroll(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
) -> ApiResult<Json<EnrollResponse>> {
    let me = state.users.me(&who).await?;
    let e = state.mfa.enroll(&who, me.email.as_str(), &meta).await?;
    Ok(Json(EnrollResponse {
        secret: e.secret.expose_secret().to_owned(),
        otpauth_uri: e.otpauth_uri.expose_secret().to_owned(),
    }))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A 6-digit TOTP code (or, where accepted, a recovery code).
    #[garde(length(chars, min = 1, max = 32))]
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct ConfirmResponse {
    /// Ten single-use recovery codes; shown once, stored hashed.
    pub recovery_codes: Vec<String>,
}

/// Activate the pending enrolment with a current code.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa/totp/confirm",
    tag = "mfa",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Active; recovery codes (shown once)", body = ConfirmResponse),
        (status = 404, description = "No pending enrolment", body = ErrorBody),
        (status = 422, description = "`invalid_code`", body = ErrorBody)
    )
)]
pub async fn confirm(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(req): Json<CodeRequest>,
) -> ApiResult<Json<ConfirmResponse>> {
    let recovery_codes = state.mfa.confirm(&who, &req.code, &meta).await?;
    Ok(Json(ConfirmResponse { recovery_codes }))
}

/// Remove the second factor (needs a current TOTP code).
#[utoipa::path(
    delete,
    path = "/api/v1/auth/mfa/totp",
    tag = "mfa",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 204, description = "Removed"),
        (status = 422, description = "`invalid_code`", body = ErrorBody)
    )
)]
pub async fn disable(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(req): Json<CodeRequest>,
) -> ApiResult<StatusCode> {
    state.mfa.disable(&who, &req.code, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MfaStatus {
    pub enrolled: bool,
    pub recovery_codes_left: u32,
    /// When this session last verified its second factor.
    pub mfa_verified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether the tenant's policy requires MFA for the caller's role.
    pub required: bool,
}

/// The caller's MFA state.
#[utoipa::path(
    get,
    path = "/api/v1/auth/mfa",
    tag = "mfa",
    security(("bearer" = [])),
    responses((status = 200, description = "MFA state", body = MfaStatus))
)]
pub async fn status(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<MfaStatus>> {
    Ok(Json(MfaStatus {
        enrolled: who.mfa_enrolled,
        recovery_codes_left: state.mfa.recovery_codes_left(&who).await?,
        mfa_verified_at: who.mfa_verified_at,
        required: who.mfa_required,
    }))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[garde(skip)]
    #[schema(value_type = String)]
    pub mfa_token: SecretString,
    /// A TOTP code or a recovery code.
    #[garde(length(chars, min = 1, max = 32))]
    pub code: String,
}

/// Second step of an MFA login: exchange the `mfa_token` from the
/// `mfa_required` answer and a code for tokens.
///
/// Wrong codes count towards the account's lockout.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa/verify",
    tag = "mfa",
    security(()),
    request_body = VerifyRequest,
    responses(
        (status = 200, description = "Logged in; `amr` is `[\"pwd\",\"otp\"]`", body = TokenResponse),
        (status = 401, description = "`invalid_mfa_code`", body = ErrorBody),
        (status = 429, description = "`account_locked`", body = ErrorBody)
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Json(req): Json<VerifyRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let pair = state
        .auth
        .verify_mfa(&req.mfa_token, &req.code, &meta)
        .await?;
    Ok(Json(pair.into()))
}

#[derive(Serialize, ToSchema)]
pub struct StepUpResponse {
    /// Sensitive actions are allowed until this time.
    pub valid_until: chrono::DateTime<chrono::Utc>,
}

/// Verify the second factor again for sensitive actions.
#[utoipa::path(
    post,
    path = "/api/v1/auth/mfa/step-up",
    tag = "mfa",
    security(("bearer" = [])),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "Step-up granted", body = StepUpResponse),
        (status = 403, description = "`mfa_enrollment_required`", body = ErrorBody),
        (status = 422, description = "`invalid_code`", body = ErrorBody)
    )
)]
pub async fn step_up(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(req): Json<CodeRequest>,
) -> ApiResult<Json<StepUpResponse>> {
    state.mfa.step_up(&who, &req.code, &meta).await?;
    let window = state.auth.settings().step_up_window;
    let valid_until = isms_domain::time::now()
        + chrono::TimeDelta::from_std(window).unwrap_or(chrono::TimeDelta::zero());
    Ok(Json(StepUpResponse { valid_until }))
}
