//! Exposures (asset × threat × vulnerability links) and assessments: one
//! asset on request, every due asset of a tenant in batches (on request or
//! by the daily job).

use std::collections::{HashMap, HashSet};

use isms_domain::TenantId;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::ports::RepoError;
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::risk::{
    AssessmentInput, AssessmentResult, AssessmentWrite, Assessor, AssetId, Exposure, Risk, RiskId,
    RiskLevel, ThreatId, Treatment, VulnerabilityId, assess_pairs, score_pair,
};
use isms_domain::time::{Timestamp, now};

use super::RiskService;
use crate::AppError;

/// Assets per transaction of a bulk run.
const BATCH: u32 = 250;

/// What a bulk run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub assessed: u64,
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl RunSummary {
    fn count(&mut self, level: RiskLevel) {
        self.assessed += 1;
        match level {
            RiskLevel::Critical => self.critical += 1,
            RiskLevel::High => self.high += 1,
            RiskLevel::Medium => self.medium += 1,
            RiskLevel::Low => self.low += 1,
        }
    }
}

fn body_ref(field: &'static str, e: RepoError) -> AppError {
    match e {
        RepoError::NotFound => AppError::validation(field, "unknown", format!("no such {field}")),
        other => other.into(),
    }
}

impl RiskService {
    /// Links an asset to a threat, optionally through a vulnerability,
    /// scoring the new risk at once so the register never shows it blank.
    pub async fn add_exposure(
        &self,
        who: &Principal,
        asset: AssetId,
        threat: ThreatId,
        vulnerability: Option<VulnerabilityId>,
        meta: &RequestMeta,
    ) -> Result<Risk, AppError> {
        who.require(Permission::AssetsWrite)?;
        let tenant = who.tenant_id;
        let asset = self.repo().get_asset(tenant, asset).await?;
        let threat = self
            .repo()
            .get_threat(tenant, threat)
            .await
            .map_err(|e| body_ref("threat_id", e))?;
        let vulnerability = match vulnerability {
            Some(v) => Some(
                self.repo()
                    .get_vulnerability(tenant, v)
                    .await
                    .map_err(|e| body_ref("vulnerability_id", e))?,
            ),
            None => None,
        };
        let exposure = Exposure::link(&asset, &threat, vulnerability.as_ref())
            .map_err(|_| AppError::NotFound)?;
        let matrix = self.matrix(tenant).await?;
        let score = score_pair(&asset, &threat, vulnerability.as_ref(), &matrix);
        let risk = Risk::new(exposure, score, now());
        let event = Self::event(
            K::ExposureCreated,
            who,
            meta,
            "risk",
            risk.id,
            serde_json::json!({
                "asset_id": asset.id.to_string(),
                "threat_id": threat.id.to_string(),
                "vulnerability_id": vulnerability.as_ref().map(|v| v.id.to_string()),
                "score": score.score,
            }),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.add_exposure(&risk, audit).await
            })
            .await?;
        Ok(risk)
    }

    pub async fn remove_exposure(
        &self,
        who: &Principal,
        asset: AssetId,
        threat: ThreatId,
        vulnerability: Option<VulnerabilityId>,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        who.require(Permission::AssetsWrite)?;
        self.repo().get_asset(who.tenant_id, asset).await?;
        let exposure = Exposure {
            tenant_id: who.tenant_id,
            asset_id: asset,
            threat_id: threat,
            vulnerability_id: vulnerability,
        };
        let event = Self::event(
            K::ExposureDeleted,
            who,
            meta,
            "asset",
            asset,
            serde_json::json!({
                "threat_id": threat.to_string(),
                "vulnerability_id": vulnerability.map(|v| v.to_string()),
            }),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.remove_exposure(&exposure, now(), audit).await
            })
            .await?;
        Ok(())
    }

    /// Runs the engine over `inputs` and plans their writes: per input the
    /// result, every risk rescored, and the treatments of risks whose
    /// score moved rebased on the new score (an approval may be withdrawn
    /// by that). The treatments of the moved risks are read in one query.
    async fn plan(
        &self,
        tenant: TenantId,
        inputs: Vec<AssessmentInput>,
        assessor: Assessor,
        at: Timestamp,
    ) -> Result<Vec<AssessmentWrite>, AppError> {
        let matrix = self.matrix(tenant).await?;
        let mut writes = Vec::with_capacity(inputs.len());
        let mut moved = Vec::new();
        for input in inputs {
            let result = assess_pairs(
                &input.asset,
                input
                    .pairs
                    .iter()
                    .map(|p| (&p.threat, p.vulnerability.as_ref())),
                &matrix,
                at,
                assessor,
            )
            .map_err(|e| AppError::Internal(e.to_string()))?;
            let mut risks = Vec::with_capacity(input.pairs.len());
            for (pair, c) in input.pairs.into_iter().zip(&result.contributions) {
                let mut risk = pair.risk;
                if risk.inherent.score != c.score {
                    moved.push(risk.id);
                }
                risk.rescore(c.pair(), at);
                risks.push(risk);
            }
            writes.push(AssessmentWrite {
                result,
                risks,
                treatments: Vec::new(),
            });
        }
        if moved.is_empty() {
            return Ok(writes);
        }
        let mut treatments: HashMap<RiskId, Treatment> = self
            .repo()
            .treatments_of(tenant, &moved)
            .await?
            .into_iter()
            .map(|t| (t.risk_id, t))
            .collect();
        let moved: HashSet<RiskId> = moved.into_iter().collect();
        for w in &mut writes {
            for risk in w.risks.iter().filter(|r| moved.contains(&r.id)) {
                if let Some(mut t) = treatments.remove(&risk.id) {
                    t.rebase(risk.inherent, at);
                    w.treatments.push(t);
                }
            }
        }
        Ok(writes)
    }

    fn assessment_event(
        tenant: TenantId,
        actor: Option<&Principal>,
        meta: &RequestMeta,
        r: &AssessmentResult,
    ) -> SecurityEvent {
        let mut e = SecurityEvent::new(K::AssessmentRecorded, Outcome::Success, meta)
            .tenant(tenant)
            .details(serde_json::json!({
                "resource_type": "asset",
                "resource_id": r.asset_id.to_string(),
                "assessment_id": r.id.to_string(),
                "risk_score": r.risk_score,
                "risk_level": r.risk_level.as_str(),
            }));
        if let Some(who) = actor {
            e = e.actor(who.user_id).session(who.session_id);
        }
        e
    }

    pub async fn assess_asset(
        &self,
        who: &Principal,
        asset: AssetId,
        meta: &RequestMeta,
    ) -> Result<AssessmentResult, AppError> {
        who.require(Permission::AssetsWrite)?;
        let input = self.repo().assessment_input(who.tenant_id, asset).await?;
        let assessor = Assessor::User {
            user_id: who.user_id,
        };
        let write = self
            .plan(who.tenant_id, vec![input], assessor, now())
            .await?
            .pop()
            .ok_or_else(|| AppError::Internal("no assessment planned".into()))?;
        let event = Self::assessment_event(who.tenant_id, Some(who), meta, &write.result);
        let repo = self.repo();
        let tenant = who.tenant_id;
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.record_assessments(tenant, std::slice::from_ref(&write), audit)
                    .await
            })
            .await?;
        Ok(write.result)
    }

    pub async fn list_assessments(
        &self,
        who: &Principal,
        asset: AssetId,
        page: PageRequest,
    ) -> Result<Page<AssessmentResult>, AppError> {
        who.require(Permission::AssetsRead)?;
        self.repo().get_asset(who.tenant_id, asset).await?;
        Ok(self
            .repo()
            .list_assessments(who.tenant_id, asset, page)
            .await?)
    }

    /// Assesses every asset of the caller's tenant that is due.
    pub async fn run_due(
        &self,
        who: &Principal,
        meta: &RequestMeta,
    ) -> Result<RunSummary, AppError> {
        who.require(Permission::AssetsWrite)?;
        let assessor = Assessor::User {
            user_id: who.user_id,
        };
        self.run_tenant(who.tenant_id, Some(who), assessor, meta)
            .await
    }

    /// The scheduled run: every tenant, as the system.
    pub async fn run_due_all(&self) -> Result<RunSummary, AppError> {
        let mut total = RunSummary::default();
        let mut page = PageRequest::first(100);
        loop {
            let tenants = self.inner.tenants.list(page).await?;
            for t in &tenants.items {
                let s = self
                    .run_tenant(t.id, None, Assessor::System, &RequestMeta::default())
                    .await?;
                total.assessed += s.assessed;
                total.critical += s.critical;
                total.high += s.high;
                total.medium += s.medium;
                total.low += s.low;
            }
            match tenants.next_after {
                Some(after) => {
                    page = PageRequest::new(Some(100), Some(after))
                        .map_err(|e| AppError::Internal(e.to_string()))?
                }
                None => return Ok(total),
            }
        }
    }

    async fn run_tenant(
        &self,
        tenant: TenantId,
        actor: Option<&Principal>,
        assessor: Assessor,
        meta: &RequestMeta,
    ) -> Result<RunSummary, AppError> {
        // One clock for the run: an asset assessed in this run is not due
        // again before it ends, and the cursor moves past every asset once.
        let at = now();
        let mut summary = RunSummary::default();
        let mut after = None;
        loop {
            let batch = self
                .repo()
                .due_for_assessment(tenant, at, after, BATCH)
                .await?;
            let Some(last) = batch.last().map(|i| i.asset.id) else {
                return Ok(summary);
            };
            let full = batch.len() == BATCH as usize;
            let writes = self.plan(tenant, batch, assessor, at).await?;
            let events: Vec<_> = writes
                .iter()
                .map(|w| Self::assessment_event(tenant, actor, meta, &w.result))
                .collect();
            let repo = self.repo();
            self.inner
                .audit
                .change(events, async |audit| {
                    repo.record_assessments(tenant, &writes, audit).await
                })
                .await?;
            for w in &writes {
                summary.count(w.result.risk_level);
            }
            if !full {
                return Ok(summary);
            }
            after = Some(last);
        }
    }
}
