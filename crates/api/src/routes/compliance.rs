//! The compliance monitor: checks and their latest results, the overall
//! status and score, the score history, running all checks now, the
//! per-tenant check configuration, and access reviews.

use axum::extract::State;
use axum::http::StatusCode;
use isms_app::compliance::ReviewRequest;
use isms_domain::UserId;
use isms_domain::compliance::{
    AccessReview, CheckConfig, CheckSummary, ComplianceStatus, Issue, ReviewOutcome, ScoreSnapshot,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Auth, Meta};
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::routes::users::{ListParams, encode_cursor, page_request};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct LastResultView {
    /// `PASSED`, `WARNING`, `FAILED` or `ERROR`.
    #[schema(example = "WARNING")]
    pub status: String,
    pub message: String,
    /// Ids and counts behind the status (never personal data).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// What to do about it; `null` when the check passed.
    pub recommendation: Option<String>,
    pub ran_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckView {
    #[schema(example = "password_policy")]
    pub id: String,
    pub name: String,
    /// `LOW`, `MEDIUM`, `HIGH` or `CRITICAL` (the tenant's setting).
    pub severity: String,
    /// `hourly`, `daily`, `weekly` or `monthly`.
    pub frequency: String,
    pub enabled: bool,
    /// Annex A (2022) controls the check evidences, e.g. `8.5`.
    pub controls: Vec<String>,
    pub last_result: Option<LastResultView>,
    /// When the scheduler runs it next (`null` when disabled).
    pub next_run_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<CheckSummary> for CheckView {
    fn from(s: CheckSummary) -> Self {
        Self {
            id: s.id.as_str().to_owned(),
            name: s.name,
            severity: s.severity.as_str().to_owned(),
            frequency: s.frequency.as_str().to_owned(),
            enabled: s.enabled,
            controls: s.controls,
            last_result: s.last_result.map(|r| LastResultView {
                status: r.status.as_str().to_owned(),
                message: r.message,
                details: r.details,
                recommendation: r.recommendation,
                ran_at: r.ran_at,
            }),
            next_run_at: s.next_run_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CheckList {
    pub items: Vec<CheckView>,
}

/// Every check with the tenant's settings and its latest result.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/checks",
    operation_id = "list_compliance_checks",
    tag = "compliance",
    security(("bearer" = [])),
    responses((status = 200, description = "The nine checks", body = CheckList))
)]
pub async fn checks(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<CheckList>> {
    let items = state.compliance.checks(&who).await?;
    Ok(Json(CheckList {
        items: items.into_iter().map(CheckView::from).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct IssueView {
    pub check: String,
    pub severity: String,
    pub status: String,
    pub message: String,
}

impl From<Issue> for IssueView {
    fn from(i: Issue) -> Self {
        Self {
            check: i.check.as_str().to_owned(),
            severity: i.severity.as_str().to_owned(),
            status: i.status.as_str().to_owned(),
            message: i.message,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StatusView {
    /// `COMPLIANT`, `WARNING` or `NON_COMPLIANT`.
    #[schema(example = "WARNING")]
    pub overall_status: String,
    /// 0.0..=100.0, one decimal (formula in docs/compliance.md).
    #[schema(example = 87.5)]
    pub score: f64,
    pub critical_issues: Vec<IssueView>,
    pub warnings: Vec<IssueView>,
    /// When the newest result counted ran (`null`: nothing ran yet).
    pub ran_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn status_view(s: ComplianceStatus, ran_at: Option<chrono::DateTime<chrono::Utc>>) -> StatusView {
    StatusView {
        overall_status: s.overall_status.as_str().to_owned(),
        score: s.score.as_f64(),
        critical_issues: s.critical_issues.into_iter().map(IssueView::from).collect(),
        warnings: s.warnings.into_iter().map(IssueView::from).collect(),
        ran_at,
    }
}

/// The overall status and score over the latest result of each enabled
/// check.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/status",
    operation_id = "compliance_status",
    tag = "compliance",
    security(("bearer" = [])),
    responses((status = 200, description = "Status and score", body = StatusView))
)]
pub async fn status(State(state): State<AppState>, Auth(who): Auth) -> ApiResult<Json<StatusView>> {
    let (status, ran_at) = state.compliance.status(&who).await?;
    Ok(Json(status_view(status, ran_at)))
}

/// Run every enabled check now (manager and above); returns the status
/// after the run.
#[utoipa::path(
    post,
    path = "/api/v1/compliance/run",
    operation_id = "run_compliance_checks",
    tag = "compliance",
    security(("bearer" = [])),
    responses((status = 200, description = "Status and score after the run", body = StatusView))
)]
pub async fn run(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
) -> ApiResult<Json<StatusView>> {
    let status = state.compliance.run_now(&who, &meta).await?;
    let ran_at = Some(status.ran_at);
    Ok(Json(status_view(status, ran_at)))
}

#[derive(Serialize, ToSchema)]
pub struct HistoryPoint {
    pub overall_status: String,
    pub score: f64,
    /// Counts after that run.
    pub critical_issues: u32,
    pub warnings: u32,
    pub ran_at: chrono::DateTime<chrono::Utc>,
}

impl From<ScoreSnapshot> for HistoryPoint {
    fn from(s: ScoreSnapshot) -> Self {
        Self {
            overall_status: s.overall_status.as_str().to_owned(),
            score: s.score.as_f64(),
            critical_issues: s.critical_issues,
            warnings: s.warnings,
            ran_at: s.ran_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HistoryPage {
    pub items: Vec<HistoryPoint>,
    pub next_cursor: Option<String>,
}

/// The score after each run, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/history",
    operation_id = "compliance_history",
    tag = "compliance",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "One page of the score history", body = HistoryPage))
)]
pub async fn history(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<HistoryPage>> {
    let page = state
        .compliance
        .history(&who, page_request(&params)?)
        .await?;
    Ok(Json(HistoryPage {
        next_cursor: encode_cursor(page.next_after),
        items: page.items.into_iter().map(HistoryPoint::from).collect(),
    }))
}

/// The request body: a whole configuration, validated by the domain
/// (unknown fields are refused; omitted ones take their defaults).
#[derive(Deserialize, garde::Validate)]
#[serde(transparent)]
pub struct ConfigBody(#[garde(skip)] pub CheckConfig);

/// The tenant's check configuration: per check `enabled`, `frequency`,
/// `severity`, and the thresholds (admin).
#[utoipa::path(
    get,
    path = "/api/v1/compliance/config",
    operation_id = "get_compliance_config",
    tag = "compliance",
    security(("bearer" = [])),
    responses((status = 200, description = "The configuration (defaults when never set)", body = Object))
)]
pub async fn get_config(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> ApiResult<Json<CheckConfig>> {
    Ok(Json(state.compliance.config(&who).await?))
}

/// Replace the tenant's check configuration (admin).
#[utoipa::path(
    put,
    path = "/api/v1/compliance/config",
    operation_id = "put_compliance_config",
    tag = "compliance",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{\"checks\":{\"admin_count\":{\"enabled\":true,\"frequency\":\"daily\",\"severity\":\"HIGH\"}},\"thresholds\":{\"max_admins\":3}}`"),
    responses(
        (status = 200, description = "Stored", body = Object),
        (status = 422, description = "Invalid configuration", body = ErrorBody)
    )
)]
pub async fn put_config(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(ConfigBody(config)): Json<ConfigBody>,
) -> ApiResult<Json<CheckConfig>> {
    Ok(Json(
        state.compliance.put_config(&who, config, &meta).await?,
    ))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// `keep`, `modify` or `revoke`.
    #[garde(skip)]
    #[schema(value_type = String, example = "keep")]
    pub outcome: ReviewOutcome,
    #[garde(inner(length(chars, max = 1000)))]
    pub comment: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewView {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub reviewer_id: uuid::Uuid,
    pub outcome: String,
    pub comment: Option<String>,
    pub reviewed_at: chrono::DateTime<chrono::Utc>,
}

impl From<AccessReview> for ReviewView {
    fn from(r: AccessReview) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id.as_uuid(),
            reviewer_id: r.reviewer_id.as_uuid(),
            outcome: r.outcome.as_str().to_owned(),
            comment: r.comment,
            reviewed_at: r.reviewed_at,
        }
    }
}

/// Record a review of one user's access rights (manager and above; not
/// one's own). The review stamps the user's `last_access_review_at`; a
/// `modify` or `revoke` outcome is carried out separately by an admin.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/access-review",
    operation_id = "review_user_access",
    tag = "compliance",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "User id")),
    request_body = ReviewBody,
    responses(
        (status = 201, description = "Recorded", body = ReviewView),
        (status = 404, description = "No such user in this tenant", body = ErrorBody),
        (status = 422, description = "Bad outcome or comment, or a self-review", body = ErrorBody)
    )
)]
pub async fn review_user(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Path(id): Path<UserId>,
    Json(body): Json<ReviewBody>,
) -> ApiResult<(StatusCode, Json<ReviewView>)> {
    let mut done = state
        .compliance
        .review(
            &who,
            vec![ReviewRequest {
                user_id: id,
                outcome: body.outcome,
                comment: body.comment,
            }],
            &meta,
        )
        .await?;
    let review = done.pop().ok_or_else(crate::error::ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(review.into())))
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct BulkReviewItem {
    #[garde(skip)]
    #[schema(value_type = uuid::Uuid)]
    pub user_id: UserId,
    #[garde(skip)]
    #[schema(value_type = String, example = "keep")]
    pub outcome: ReviewOutcome,
    #[garde(inner(length(chars, max = 1000)))]
    pub comment: Option<String>,
}

#[derive(Deserialize, ToSchema, garde::Validate)]
#[serde(deny_unknown_fields)]
pub struct BulkReviewBody {
    /// 1 to 100 reviews, recorded all or nothing.
    #[garde(length(min = 1, max = 100), dive)]
    pub reviews: Vec<BulkReviewItem>,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewList {
    pub items: Vec<ReviewView>,
}

/// Record reviews of several users at once, all or nothing (manager and
/// above).
#[utoipa::path(
    post,
    path = "/api/v1/access-reviews",
    operation_id = "review_access_bulk",
    tag = "compliance",
    security(("bearer" = [])),
    request_body = BulkReviewBody,
    responses(
        (status = 201, description = "Recorded", body = ReviewList),
        (status = 404, description = "A user is not in this tenant; nothing was recorded", body = ErrorBody),
        (status = 422, description = "Bad outcome, comment or count, or a self-review", body = ErrorBody)
    )
)]
pub async fn review_bulk(
    State(state): State<AppState>,
    Auth(who): Auth,
    Meta(meta): Meta,
    Json(body): Json<BulkReviewBody>,
) -> ApiResult<(StatusCode, Json<ReviewList>)> {
    let requests = body
        .reviews
        .into_iter()
        .map(|r| ReviewRequest {
            user_id: r.user_id,
            outcome: r.outcome,
            comment: r.comment,
        })
        .collect();
    let done = state.compliance.review(&who, requests, &meta).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReviewList {
            items: done.into_iter().map(ReviewView::from).collect(),
        }),
    ))
}
