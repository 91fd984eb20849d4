//! The HTTP error model: every error response is
//! `{"code","message","request_id","details"?}` with the right status.
//!
//! Handlers and extractors return `ApiError`; its response carries an
//! `ErrorInfo` extension and the request-context middleware renders the
//! body, because only it knows the request id. Error responses produced
//! outside our code (unknown route, wrong method, body limit, timeout,
//! panic) are rendered there too, from their status alone.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use isms_app::AppError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code in snake_case, e.g. `validation_failed`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// Human-readable sentence; never contains internal detail.
    pub message: String,
    /// The request's correlation id (also in the `X-Request-ID` header).
    pub request_id: String,
    /// Structured detail, e.g. per-field validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    /// Only with `mfa_required`: the single-use token for
    /// `POST /api/v1/auth/mfa/verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
}

/// What a response needs to become an `ErrorBody` once the request id is
/// known.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    pub mfa_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub info: ErrorInfo,
    /// Sent as `Retry-After` (whole seconds, at least 1).
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            info: ErrorInfo {
                code,
                message: message.into(),
                details: None,
                mfa_token: None,
            },
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.info.details = Some(details);
        self
    }

    pub fn retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn rate_limited(after: std::time::Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests; retry after the time in Retry-After.",
        )
        .retry_after(after)
    }

    pub fn mfa_enrollment_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "mfa_enrollment_required",
            "Enrol a second factor first (POST /api/v1/auth/mfa/totp/enroll).",
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "The requested resource does not exist.",
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "A valid access token is required.",
        )
    }

    pub fn password_change_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "Change your one-time password (POST /api/v1/users/me/password) first.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "The server failed to handle the request.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "A dependency is unavailable; try again later.",
        )
    }

    /// The error for a status that reached the client without an
    /// `ApiError` (framework rejections, middleware, panics).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::BAD_REQUEST => ("bad_request", "The request is malformed."),
            StatusCode::UNAUTHORIZED => ("unauthenticated", "Authentication is required."),
            StatusCode::FORBIDDEN => ("forbidden", "You are not allowed to do this."),
            StatusCode::NOT_FOUND => ("not_found", "No such route."),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "This route does not accept that method.",
            ),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "The request took too long."),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "payload_too_large",
                "The request body is larger than 64 KiB.",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "The request body must be application/json.",
            ),
            StatusCode::SERVICE_UNAVAILABLE => (
                "service_unavailable",
                "The service is unavailable; try again later.",
            ),
            StatusCode::GATEWAY_TIMEOUT => ("timeout", "The request took too long to process."),
            s if s.is_server_error() => {
                ("internal_error", "The server failed to handle the request.")
            }
            _ => ("error", "The request failed."),
        };
        Self::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.max(1).into());
        }
        res.extensions_mut().insert(self.info);
        res
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation { field, code, message } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "The request failed validation.",
            )
            .with_details(serde_json::json!({ "fields": [{ "field": field, "code": code, "message": message }] })),
            AppError::NotFound => Self::not_found(),
            AppError::Unauthenticated => Self::unauthenticated(),
            AppError::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The e-mail address or password is wrong.",
            ),
            AppError::Forbidden(reason) => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "You are not allowed to do this.",
            )
            .with_details(serde_json::json!({ "reason": reason })),
            AppError::PasswordChangeRequired => Self::password_change_required(),
            AppError::Conflict(rule) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                match rule {
                    "key_in_use" => "Stored data still depends on this key version; rewrap it first.".to_owned(),
                    "alert_acknowledged" => "The alert was acknowledged already.".to_owned(),
                    "request_changed" => "The request changed meanwhile; read it again.".to_owned(),
                    "request_automated" => "The server fulfils this request itself; it can only be rejected.".to_owned(),
                    "request_closed" | "invalid_transition" => "The request cannot move to that status.".to_owned(),
                    "export_not_ready" => "The export is still being produced; try again shortly.".to_owned(),
                    other => format!("A resource with this {} already exists.", other.replace('_', " ")),
                },
            )
            .with_details(serde_json::json!({ "rule": rule })),
            AppError::Gone(reason) => Self::new(
                StatusCode::GONE,
                reason,
                match reason {
                    "export_downloaded" => "The export was downloaded already; it can be downloaded once.",
                    "export_expired" => "The export expired; record a new request.",
                    _ => "The resource is gone.",
                },
            ),
            AppError::KeyRetired => Self::new(
                StatusCode::CONFLICT,
                "key_retired",
                "The key version that sealed this data is retired and no longer decrypts.",
            ),
            AppError::DecryptionFailed => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "decryption_failed",
                "The ciphertext could not be decrypted: it was altered, or the key or context do not match.",
            ),
            AppError::AccountLocked { retry_after } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "account_locked",
                "Too many failed attempts; the account is locked for now.",
            )
            .retry_after(retry_after),
            AppError::RateLimited { retry_after } => Self::rate_limited(retry_after),
            AppError::MfaRequired { mfa_token } => {
                let mut e = Self::new(
                    StatusCode::UNAUTHORIZED,
                    "mfa_required",
                    "A second factor is required: POST /api/v1/auth/mfa/verify with this mfa_token and a code.",
                );
                e.info.mfa_token = Some(secrecy::ExposeSecret::expose_secret(&mfa_token).to_owned());
                e
            }
            AppError::InvalidMfaCode => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_mfa_code",
                "The code or the MFA token is wrong or expired.",
            ),
            AppError::InvalidCode => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_code",
                "The code is wrong, expired or already used.",
            ),
            AppError::StepUp(isms_domain::mfa::StepUpDenied::EnrolmentRequired) => {
                Self::mfa_enrollment_required()
            }
            AppError::StepUp(isms_domain::mfa::StepUpDenied::StepUpRequired) => Self::new(
                StatusCode::FORBIDDEN,
                "mfa_step_up_required",
                "This action needs a recent second factor: POST /api/v1/auth/mfa/step-up.",
            ),
            AppError::ContextDenied(constraint) => Self::new(
                StatusCode::FORBIDDEN,
                "access_denied_context",
                "The tenant's access policy does not allow this request from here or at this time.",
            )
            .with_details(serde_json::json!({ "constraint": constraint })),
            AppError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "dependency.unavailable");
                Self::unavailable()
            }
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal.error");
                Self::internal()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
