//! The risk register, its heat map and CSV export, and treatments with
//! their approval by level (ISO 27001 6.1.3; ISO/IEC 27005 clause 8).

use isms_domain::events::{RequestMeta, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::risk::{
    ApprovalDenied, Approver, Heatmap, RegisterEntry, RegisterRow, RiskFilter, RiskId, Treatment,
    TreatmentAction, TreatmentDraft, TreatmentError, TreatmentStatus, heatmap, register_csv,
};
use isms_domain::time::now;

use super::{RiskService, invalid};
use crate::AppError;

/// A treatment as a caller proposes or revises it.
pub type TreatmentRequest = TreatmentDraft;

/// The heat maps with the register size they count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskHeatmap {
    pub maps: Heatmap,
    pub risks: usize,
}

impl RiskService {
    pub async fn list_risks(
        &self,
        who: &Principal,
        filter: &RiskFilter,
        page: PageRequest,
    ) -> Result<Page<RegisterEntry>, AppError> {
        who.require(Permission::AssetsRead)?;
        Ok(self.repo().list_risks(who.tenant_id, filter, page).await?)
    }

    pub async fn get_risk(&self, who: &Principal, id: RiskId) -> Result<RegisterEntry, AppError> {
        who.require(Permission::AssetsRead)?;
        Ok(self.repo().get_risk(who.tenant_id, id).await?)
    }

    /// Counts per impact × likelihood cell, inherent and residual (an
    /// untreated risk counts at its inherent cell in both).
    pub async fn heatmap(
        &self,
        who: &Principal,
        filter: &RiskFilter,
    ) -> Result<RiskHeatmap, AppError> {
        who.require(Permission::AssetsRead)?;
        let entries = self.repo().all_risks(who.tenant_id, filter).await?;
        let matrix = self.matrix(who.tenant_id).await?;
        let maps = heatmap(entries.iter().map(|e| &e.risk), &matrix);
        Ok(RiskHeatmap {
            maps,
            risks: entries.len(),
        })
    }

    /// The register as CSV (cells escaped against formula injection by the
    /// domain); the export is an audit event.
    pub async fn export_csv(
        &self,
        who: &Principal,
        filter: &RiskFilter,
        meta: &RequestMeta,
    ) -> Result<String, AppError> {
        who.require(Permission::AssetsWrite)?;
        let entries = self.repo().all_risks(who.tenant_id, filter).await?;
        let owners: Vec<Option<String>> = entries
            .iter()
            .map(|e| {
                e.treatment
                    .as_ref()
                    .map(|t| t.owner)
                    .or(e.asset_owner)
                    .map(|o| o.to_string())
            })
            .collect();
        let rows: Vec<RegisterRow<'_>> = entries
            .iter()
            .zip(&owners)
            .map(|(e, owner)| RegisterRow {
                risk_id: e.risk.id,
                asset: &e.asset_name,
                threat: &e.threat_name,
                vulnerability: e.vulnerability_name.as_deref(),
                inherent: e.risk.inherent,
                residual: e.risk.residual,
                treatment: e.treatment.as_ref().map(|t| t.option),
                treatment_status: e.treatment.as_ref().map(|t| t.status),
                owner: owner.as_deref(),
                due_date: e.treatment.as_ref().and_then(|t| t.due_date),
            })
            .collect();
        let csv = register_csv(&rows);
        self.inner
            .audit
            .record(vec![Self::event(
                K::DataExport,
                who,
                meta,
                "risk_register",
                who.tenant_id,
                serde_json::json!({ "format": "csv", "rows": rows.len() }),
            )])
            .await?;
        Ok(csv)
    }

    /// Proposes a treatment for the risk, or revises the current one (which
    /// returns it to `proposed`: an approval covers the plan approved).
    pub async fn put_treatment(
        &self,
        who: &Principal,
        id: RiskId,
        draft: TreatmentRequest,
        meta: &RequestMeta,
    ) -> Result<Treatment, AppError> {
        who.require(Permission::AssetsWrite)?;
        let entry = self.repo().get_risk(who.tenant_id, id).await?;
        if entry.treatment.as_ref().map(|t| t.owner) != Some(draft.owner) {
            self.require_owner(who.tenant_id, draft.owner, "owner")
                .await?;
        }
        let at = now();
        let matrix = self.matrix(who.tenant_id).await?;
        let treatment = match entry.treatment {
            Some(mut t) => {
                t.revise(draft, who.user_id, &matrix, at)
                    .map_err(treatment_error)?;
                t
            }
            None => Treatment::propose(&entry.risk, draft, who.user_id, &matrix, at)
                .map_err(treatment_error)?,
        };
        let event = Self::event(
            K::TreatmentUpdated,
            who,
            meta,
            "risk",
            id,
            serde_json::json!({
                "treatment_id": treatment.id.to_string(),
                "option": treatment.option.as_str(),
                "status": treatment.status.as_str(),
                "revision": treatment.revision,
            }),
        );
        let repo = self.repo();
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.save_treatment(&treatment, None, audit).await
            })
            .await?;
        Ok(treatment)
    }

    /// Approves the risk's current treatment. Who may: by the risk's level
    /// (`approval_requirement`): HIGH needs manager+, CRITICAL admin with a
    /// recent MFA step-up, and neither the proposer. An approved acceptance
    /// is done at once and sets the risk's residual score.
    pub async fn approve_treatment(
        &self,
        who: &Principal,
        id: RiskId,
        comment: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<Treatment, AppError> {
        who.require(Permission::AssetsRead)?;
        let entry = self.repo().get_risk(who.tenant_id, id).await?;
        let mut treatment = entry.treatment.ok_or_else(|| {
            AppError::validation(
                "treatment",
                "missing",
                "the risk has no treatment to approve",
            )
        })?;
        let window = self.inner.auth.settings().step_up_window;
        let step_up = who.require_step_up(now(), window);
        let approver = Approver {
            user_id: who.user_id,
            role: who.role,
            step_up_verified: step_up.is_ok(),
        };
        let at = now();
        match treatment.approve(&approver, comment, at) {
            Ok(()) => {}
            Err(TreatmentError::Denied(ApprovalDenied::StepUpRequired)) => {
                return Err(match step_up {
                    Err(denied) => AppError::StepUp(denied),
                    Ok(()) => AppError::Forbidden("mfa_step_up"),
                });
            }
            Err(TreatmentError::Denied(ApprovalDenied::RoleTooLow(_))) => {
                return Err(AppError::Forbidden(
                    treatment.approval_requirement().permission().as_str(),
                ));
            }
            Err(TreatmentError::Denied(ApprovalDenied::SelfApproval)) => {
                return Err(AppError::Forbidden("distinct_approver"));
            }
            Err(e) => return Err(treatment_error(e)),
        }
        let mut risk = entry.risk;
        let risk_changed = if treatment.status == TreatmentStatus::Done {
            risk.record_treatment(&treatment, at).map_err(invalid)?;
            true
        } else {
            false
        };
        let event = Self::event(
            K::TreatmentApproved,
            who,
            meta,
            "risk",
            id,
            serde_json::json!({
                "treatment_id": treatment.id.to_string(),
                "approver": who.user_id.to_string(),
                "role": who.role.as_str(),
                "step_up": approver.step_up_verified,
                "level": treatment.inherent.level.as_str(),
                "revision": treatment.revision,
                "approved_at": at,
                "comment": comment,
            }),
        );
        let repo = self.repo();
        let risk_ref = risk_changed.then_some(&risk);
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.save_treatment(&treatment, risk_ref, audit).await
            })
            .await?;
        Ok(treatment)
    }
}

impl RiskService {
    /// Moves an approved treatment to `in_progress` (`Start`) or an
    /// in-progress one to `done` (`Complete`), which sets the risk's
    /// residual score.
    pub async fn advance_treatment(
        &self,
        who: &Principal,
        id: RiskId,
        action: TreatmentAction,
        meta: &RequestMeta,
    ) -> Result<Treatment, AppError> {
        who.require(Permission::AssetsWrite)?;
        let entry = self.repo().get_risk(who.tenant_id, id).await?;
        let mut treatment = entry.treatment.ok_or_else(|| {
            AppError::validation("treatment", "missing", "the risk has no treatment")
        })?;
        let at = now();
        let mut risk = entry.risk;
        let risk_changed = match action {
            TreatmentAction::Start => {
                treatment.start(at).map_err(treatment_error)?;
                false
            }
            TreatmentAction::Complete => {
                treatment.complete(at).map_err(treatment_error)?;
                risk.record_treatment(&treatment, at).map_err(invalid)?;
                true
            }
            TreatmentAction::Approve | TreatmentAction::Revise => {
                return Err(AppError::validation(
                    "action",
                    "invalid",
                    "only start and complete advance a treatment",
                ));
            }
        };
        let event = Self::event(
            K::TreatmentUpdated,
            who,
            meta,
            "risk",
            id,
            serde_json::json!({
                "treatment_id": treatment.id.to_string(),
                "action": action.as_str(),
                "status": treatment.status.as_str(),
            }),
        );
        let repo = self.repo();
        let risk_ref = risk_changed.then_some(&risk);
        self.inner
            .audit
            .change(vec![event], async |audit| {
                repo.save_treatment(&treatment, risk_ref, audit).await
            })
            .await?;
        Ok(treatment)
    }
}

fn treatment_error(e: TreatmentError) -> AppError {
    match e {
        TreatmentError::Invalid(v) => invalid(v),
        TreatmentError::Denied(d) => AppError::Forbidden(match d {
            ApprovalDenied::RoleTooLow(_) => "role",
            ApprovalDenied::StepUpRequired => "mfa_step_up",
            ApprovalDenied::SelfApproval => "distinct_approver",
        }),
        TreatmentError::Transition { .. } => AppError::Conflict("treatment_status"),
    }
}
