//! Authentication endpoints: login (JSON and the OAuth2 password grant),
//! refresh, logout, sessions, and the JWKS.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use isms_app::auth::TokenPair;
use isms_domain::SessionId;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[garde(length(chars, min = 1, max = 320))]
    #[schema(example = "admin@isms.local")]
    pub email: String,
    #[garde(skip)]
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Ed25519-signed JWT; send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Opaque, single use: each refresh returns a new one.
    pub refresh_token: String,
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 1800)]
    pub expires_in: u64,
    /// Seconds until the refresh token (and the session) expires.
    #[schema(example = 604800)]
    pub refresh_expires_in: u64,
}

impl From<TokenPair> for TokenResponse {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            refresh_token: p.refresh_token.expose_secret().to_owned(),
            token_type: "bearer",
            expires_in: p.expires_in,
            refresh_expires_in: p.refresh_expires_in,
        }
    }
}

/// Log in with e-mail and password.
///
/// Unknown e-mail, wrong password and disabled accounts all get the same
/// 401 `invalid_credentials`, in the same time.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`", body = ErrorBody)
    )
)]
pub async fn login(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let pair = state.auth.login(&req.email, req.password, &meta).await?;
    Ok(Json(pair.into()))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    /// `password` (default) or `refresh_token`.
    #[garde(skip)]
    pub grant_type: Option<String>,
    #[garde(length(chars, max = 320))]
    pub username: Option<String>,
    #[garde(skip)]
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
    #[garde(skip)]
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<SecretString>,
    /// Accepted and ignored (OAuth2 clients send it).
    #[garde(length(chars, max = 1024))]
    pub scope: Option<String>,
    /// Accepted and ignored (OAuth2 clients send it).
    #[garde(length(chars, max = 256))]
    pub client_id: Option<String>,
}

/// OAuth2 token endpoint (RFC 6749 §4.3 password grant, §6 refresh).
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "auth",
    security(()),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued", body = TokenResponse),
        (status = 401, description = "`invalid_credentials` or `unauthenticated`", body = ErrorBody)
    )
)]
pub async fn token(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<TokenResponse>> {
    let form: TokenForm = crate::extract::parse_form(&headers, &body)?;
    let missing = |field: &'static str| {
        crate::extract::field_errors(vec![
            serde_json::json!({ "field": field, "code": "required", "message": format!("{field} is required") }),
        ])
    };
    let pair = match form.grant_type.as_deref().unwrap_or("password") {
        "password" => {
            let username = form.username.ok_or_else(|| missing("username"))?;
            let password = form.password.ok_or_else(|| missing("password"))?;
            state.auth.login(&username, password, &meta).await?
        }
        "refresh_token" => {
            let token = form.refresh_token.ok_or_else(|| missing("refresh_token"))?;
            state.auth.refresh(&token, &meta).await?
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be password or refresh_token.",
            ));
        }
    };
    Ok(Json(pair.into()))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[garde(skip)]
    #[schema(value_type = String)]
    pub refresh_token: SecretString,
}

/// Exchange a refresh token for a new pair (rotation).
///
/// The presented token is dead from that moment; presenting it again
/// revokes the whole session (reuse detection, RFC 9700 §4.14).
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New token pair", body = TokenResponse),
        (status = 401, description = "`unauthenticated`: unknown, used, expired or revoked", body = ErrorBody)
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Json(req): Json<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let pair = state.auth.refresh(&req.refresh_token, &meta).await?;
    Ok(Json(pair.into()))
}

/// End the current session: its access and refresh tokens stop working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204, description = "Logged out"))
)]
pub async fn logout(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
) -> ApiResult<StatusCode> {
    state.auth.logout(&who, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    #[schema(value_type = String, format = Uuid)]
    pub id: SessionId,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
    /// Always null: every live session fits one page.
    pub next_cursor: Option<String>,
}

/// The caller's live sessions.
#[utoipa::path(
    get,
    path = "/api/v1/auth/sessions",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Live sessions, newest first", body = SessionList))
)]
pub async fn sessions(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<SessionList>> {
    let items = state
        .auth
        .list_sessions(&who)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: s.id == who.session_id,
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(Json(SessionList {
        items,
        next_cursor: None,
    }))
}

/// Revoke a session: one's own, or (admins) any in the tenant.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/sessions/{id}",
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such session (or not yours)", body = ErrorBody)
    )
)]
pub async fn revoke_session(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<SessionId>,
) -> ApiResult<StatusCode> {
    state.auth.revoke_session(&who, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Public keys that verify access tokens (RFC 7517).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "auth",
    security(()),
    responses((status = 200, description = "JWK Set", content_type = "application/json", body = Object))
)]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(state.auth.jwks()),
    )
}
