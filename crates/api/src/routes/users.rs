//! The users API. Permissions are declared in the route table and checked
//! again by the application service; every query is tenant-scoped there.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use isms_app::users::UserPatch;
use isms_domain::page::PageRequest;
use isms_domain::user::User;
use isms_domain::{Role, TenantId, UserId};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::{Auth, Meta};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// A user as the API shows it: never the password hash.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String, format = Uuid)]
    pub id: UserId,
    #[schema(value_type = String, format = Uuid)]
    pub tenant_id: TenantId,
    pub email: String,
    pub display_name: String,
    #[schema(value_type = String, example = "analyst")]
    pub role: Role,
    pub is_active: bool,
    /// The account holds a one-time password that must be changed first.
    pub password_must_change: bool,
    pub password_changed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_access_review_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            tenant_id: u.tenant_id,
            email: u.email.as_str().to_owned(),
            display_name: u.display_name,
            role: u.role,
            is_active: u.is_active,
            password_must_change: u.password_must_change,
            password_changed_at: u.password_changed_at,
            last_login_at: u.last_login_at,
            last_access_review_at: u.last_access_review_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[garde(length(chars, min = 3, max = 320))]
    pub email: String,
    #[garde(inner(length(chars, min = 1, max = 200)))]
    pub display_name: Option<String>,
    #[garde(skip)]
    #[schema(value_type = String, example = "analyst")]
    pub role: Role,
    /// Checked against the password policy (12-128 characters, not common,
    /// not containing the e-mail's local part).
    #[garde(skip)]
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Create a user in the caller's tenant (never with a role above one's own).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = UserView, headers(("location" = String, description = "The new user's URL"))),
        (status = 409, description = "`conflict`: the e-mail is taken", body = ErrorBody)
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(req): Json<CreateUserRequest>,
) -> ApiResult<impl IntoResponse> {
    let user = state
        .users
        .create(
            &who,
            req.email,
            req.display_name,
            req.role,
            req.password,
            &meta,
        )
        .await?;
    let location = format!("/api/v1/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserView::from(user)),
    ))
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1..=100, default 20.
    #[garde(inner(range(min = 1, max = 100)))]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `next_cursor`.
    #[garde(inner(length(max = 64)))]
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub items: Vec<UserView>,
    pub next_cursor: Option<String>,
}

/// Parses the request's page (opaque cursors are base64url UUIDs).
pub fn page_request(params: &ListParams) -> Result<PageRequest, ApiError> {
    let after = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            B64URL
                .decode(c)
                .ok()
                .and_then(|b| uuid::Uuid::from_slice(&b).ok())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_cursor",
                        "The cursor is not valid.",
                    )
                })?,
        ),
    };
    PageRequest::new(params.limit, after).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "limit must be 1 to 100.",
        )
    })
}

pub fn encode_cursor(after: Option<uuid::Uuid>) -> Option<String> {
    after.map(|id| B64URL.encode(id.as_bytes()))
}

/// List the tenant's users.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "One page of users", body = UserList))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<UserList>> {
    let page = state.users.list(&who, page_request(&params)?).await?;
    Ok(Json(UserList {
        next_cursor: encode_cursor(page.next_after),
        items: page.items.into_iter().map(UserView::from).collect(),
    }))
}

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/api/v1/users/me",
    tag = "users",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = UserView))
)]
pub async fn me(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<UserView>> {
    Ok(Json(state.users.me(&who).await?.into()))
}

/// A user of the caller's tenant (self, or manager and above).
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user in this tenant", body = ErrorBody)
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<UserId>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(state.users.get(&who, id).await?.into()))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[garde(inner(length(chars, min = 1, max = 200)))]
    pub display_name: Option<String>,
    /// Admins only.
    #[garde(skip)]
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// Admins only.
    #[garde(skip)]
    pub is_active: Option<bool>,
}

/// Change a user: self may change `display_name`; admins also `role` and
/// `is_active`. Only provided fields change.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "Updated", body = UserView),
        (status = 404, description = "No such user in this tenant", body = ErrorBody)
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<UserId>,
    Json(req): Json<UpdateUserRequest>,
) -> ApiResult<Json<UserView>> {
    let patch = UserPatch {
        display_name: req.display_name,
        role: req.role,
        is_active: req.is_active,
    };
    Ok(Json(
        state.users.update(&who, id, patch, &meta).await?.into(),
    ))
}

#[derive(Deserialize, IntoParams, garde::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Also erase the user's personal data (GDPR Art. 17): the e-mail and
    /// display name are overwritten and the subject's key is destroyed.
    #[garde(skip)]
    pub erase: Option<bool>,
}

/// Delete a user (soft delete; its sessions end at once; needs step-up).
/// With `?erase=true` the user's personal data is erased as well.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id"), DeleteParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user in this tenant", body = ErrorBody)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<UserId>,
    Query(params): Query<DeleteParams>,
) -> ApiResult<StatusCode> {
    state
        .users
        .delete(&who, id, params.erase.unwrap_or(false), &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[garde(skip)]
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    #[garde(skip)]
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretString,
}

/// Change one's own password; every other session of the account ends.
#[utoipa::path(
    post,
    path = "/api/v1/users/me/password",
    tag = "users",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed"))
)]
pub async fn change_password(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(req): Json<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    state
        .users
        .change_password(&who, req.current_password, req.new_password, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a brute-force lockout on a user (admin).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/unlock",
    tag = "users",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Unlocked (or was not locked)"),
        (status = 404, description = "No such user in this tenant", body = ErrorBody)
    )
)]
pub async fn unlock(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<UserId>,
) -> ApiResult<StatusCode> {
    state.users.unlock(&who, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}
