//! Access reviews (Annex A 5.18): a manager confirms, for one user or a
//! batch, that the user's access rights are still right (`keep`), need a
//! change (`modify`) or must go (`revoke`). The review is recorded and
//! stamps the user's `last_access_review_at`; it does not itself change
//! the account: carrying out a `modify` or `revoke` is a separate change
//! by an administrator (the reviewer and the one who provisions stay
//! separate), which the next access review then confirms.

use isms_domain::UserId;
use isms_domain::compliance::{AccessReview, ReviewOutcome};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;

use super::ComplianceService;
use crate::AppError;

/// Most reviews one bulk request records.
pub const MAX_REVIEWS: usize = 100;
/// Longest review comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

/// One review to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRequest {
    pub user_id: UserId,
    pub outcome: ReviewOutcome,
    pub comment: Option<String>,
}

impl ComplianceService {
    /// Records reviews, all or nothing: a user that is not a live user of
    /// the caller's tenant makes the whole batch 404. Nobody reviews their
    /// own access.
    pub async fn review(
        &self,
        who: &Principal,
        requests: Vec<ReviewRequest>,
        meta: &RequestMeta,
    ) -> Result<Vec<AccessReview>, AppError> {
        who.require(Permission::ComplianceWrite)?;
        if requests.is_empty() || requests.len() > MAX_REVIEWS {
            return Err(AppError::validation(
                "reviews",
                "invalid_count",
                format!("between 1 and {MAX_REVIEWS} reviews"),
            ));
        }
        let at = now();
        let mut reviews = Vec::with_capacity(requests.len());
        for r in requests {
            if r.user_id == who.user_id {
                return Err(AppError::validation(
                    "user_id",
                    "self_review",
                    "nobody reviews their own access",
                ));
            }
            let comment = r
                .comment
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty());
            if comment.as_ref().is_some_and(|c| {
                c.chars().count() > MAX_COMMENT_CHARS || c.chars().any(char::is_control)
            }) {
                return Err(AppError::validation(
                    "comment",
                    "invalid",
                    format!("at most {MAX_COMMENT_CHARS} characters, no control characters"),
                ));
            }
            reviews.push(AccessReview {
                id: uuid::Uuid::now_v7(),
                user_id: r.user_id,
                reviewer_id: who.user_id,
                outcome: r.outcome,
                comment,
                reviewed_at: at,
            });
        }
        // The comment stays out of the audit log (it may name people).
        let events = reviews
            .iter()
            .map(|r| {
                SecurityEvent::new(K::AccessReviewed, Outcome::Success, meta)
                    .tenant(who.tenant_id)
                    .actor(who.user_id)
                    .session(who.session_id)
                    .target(r.user_id)
                    .details(serde_json::json!({
                        "review_id": r.id,
                        "outcome": r.outcome.as_str(),
                    }))
            })
            .collect();
        let repo = self.inner.repo.clone();
        let tenant = who.tenant_id;
        let stored = reviews.clone();
        self.inner
            .audit
            .change(events, async move |records| {
                repo.record_reviews(tenant, &stored, records).await
            })
            .await?;
        Ok(reviews)
    }
}
