//! The risk register as the compliance monitor sees it: the `risk_review`
//! check's input and the risks a compliance report summarises.

use std::sync::Arc;

use async_trait::async_trait;
use isms_domain::TenantId;
use isms_domain::compliance::rules::RiskReviewInput;
use isms_domain::compliance::{RiskReviewSource, TopRisk, TreatmentLink};
use isms_domain::ports::RepoError;
use isms_domain::risk::{RiskFilter, RiskRepository};
use isms_domain::time::Timestamp;

pub struct RegisterReview(Arc<dyn RiskRepository>);

impl RegisterReview {
    pub fn new(risks: Arc<dyn RiskRepository>) -> Self {
        Self(risks)
    }
}

#[async_trait]
impl RiskReviewSource for RegisterReview {
    async fn risk_review_input(
        &self,
        tenant: TenantId,
        now: Timestamp,
    ) -> Result<RiskReviewInput, RepoError> {
        self.0.risk_review_input(tenant, now).await
    }

    /// Each live risk at its current level: the residual one once a
    /// treatment set it, else the inherent one.
    async fn risks(&self, tenant: TenantId) -> Result<Vec<TopRisk>, RepoError> {
        let register = self.0.all_risks(tenant, &RiskFilter::default()).await?;
        Ok(register
            .into_iter()
            .map(|entry| {
                let current = entry.risk.residual.unwrap_or(entry.risk.inherent);
                TopRisk {
                    id: entry.risk.id,
                    asset_id: entry.risk.exposure.asset_id,
                    asset: entry.asset_name,
                    score: u32::from(current.score),
                    level: current.level,
                }
            })
            .collect())
    }

    async fn treatment_links(&self, tenant: TenantId) -> Result<Vec<TreatmentLink>, RepoError> {
        let register = self.0.all_risks(tenant, &RiskFilter::default()).await?;
        Ok(register
            .into_iter()
            .filter_map(|entry| entry.treatment)
            .filter(|t| !t.planned_controls.is_empty())
            .map(|t| TreatmentLink {
                treatment_id: t.id,
                risk_id: t.risk_id,
                planned_controls: t.planned_controls,
            })
            .collect())
    }
}
