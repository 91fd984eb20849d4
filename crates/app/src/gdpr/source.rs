//! The input of `gdpr_compliance` from the GDPR records: active users
//! without a lawful-basis record (every account is personal data the
//! tenant processes), what is past each retention policy, and the open
//! data-subject requests.

use std::sync::Arc;

use async_trait::async_trait;
use isms_domain::TenantId;
use isms_domain::compliance::rules::{GdprInput, PendingRequest};
use isms_domain::compliance::{DataSubject, GdprRepository, GdprSource};
use isms_domain::ports::RepoError;
use isms_domain::time::Timestamp;

pub struct GdprRecords {
    repo: Arc<dyn GdprRepository>,
}

impl GdprRecords {
    pub fn new(repo: Arc<dyn GdprRepository>) -> Self {
        Self { repo }
    }
}

#[async_trait]
impl GdprSource for GdprRecords {
    async fn gdpr_input(&self, tenant: TenantId, now: Timestamp) -> Result<GdprInput, RepoError> {
        let subjects_without_consent = self
            .repo
            .users_without_lawful_basis(tenant, now)
            .await?
            .into_iter()
            .map(DataSubject::User)
            .collect();
        let mut past_retention = Vec::new();
        for p in self.repo.retention_policies(tenant).await? {
            let (n, oldest) = self
                .repo
                .past_retention(tenant, p.category, p.cutoff(now))
                .await?;
            past_retention.extend(p.backlog(n, oldest));
        }
        let pending_requests = self
            .repo
            .open_requests(tenant)
            .await?
            .iter()
            .map(PendingRequest::from)
            .collect();
        Ok(GdprInput {
            subjects_without_consent,
            past_retention,
            pending_requests,
        })
    }
}
