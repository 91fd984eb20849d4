//! Risk treatment (ISO 27001 6.1.3, 8.3; ISO/IEC 27005 clause 8): the
//! option chosen for a risk, the Annex A controls planned, the residual
//! risk expected, and the approval trail.
//!
//! Life cycle: `proposed → approved → in_progress → done`. Accepting a
//! risk has nothing to implement, so an approved `accept` is `done` at
//! once. Any change to the plan, at any point before `done`, returns it to
//! `proposed` under a new revision: an approval covers the plan that was
//! approved, not whatever it was edited into later. Approvals of earlier
//! revisions stay in the trail.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::approval::{ApprovalDenied, ApprovalRequirement, Approver, approval_requirement};
use super::config::RiskMatrixConfig;
use super::control::ControlId;
use super::enums::string_enum;
use super::error::{Problem, ValidationError};
use super::exposure::Risk;
use super::ids::{RiskId, TreatmentId};
use super::score::PairScore;
use super::text;
use crate::ids::{TenantId, UserId};
use crate::role::Role;
use crate::time::Timestamp;

pub const MAX_PLANNED_CONTROLS: usize = 50;

string_enum!(
    /// The ISO/IEC 27005 treatment options (modify, retain, share, avoid),
    /// under the names the register uses.
    TreatmentOption, field = "option" {
        Mitigate => "mitigate",
        Accept => "accept",
        Transfer => "transfer",
        Avoid => "avoid",
    }
);

string_enum!(
    TreatmentStatus, field = "status" {
        Proposed => "proposed",
        Approved => "approved",
        InProgress => "in_progress",
        Done => "done",
    }
);

string_enum!(
    /// What was attempted, for transition errors.
    TreatmentAction, field = "action" {
        Approve => "approve",
        Start => "start",
        Complete => "complete",
        Revise => "revise",
    }
);

/// The residual cell expected once the treatment is done, on the tenant's
/// axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidualEstimate {
    pub impact: u8,
    pub likelihood: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approver: UserId,
    /// The approver's role at the time, as evidence; roles change.
    pub role: Role,
    pub step_up: bool,
    pub at: Timestamp,
    pub comment: Option<String>,
    /// The plan revision this approval covers.
    pub revision: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Treatment {
    pub id: TreatmentId,
    pub tenant_id: TenantId,
    pub risk_id: RiskId,
    pub option: TreatmentOption,
    /// The risk owner accountable for the plan.
    pub owner: UserId,
    pub description: String,
    pub planned_controls: Vec<ControlId>,
    pub due_date: Option<NaiveDate>,
    pub status: TreatmentStatus,
    /// The risk's inherent score the plan was made against; it decides
    /// who may approve.
    pub inherent: PairScore,
    /// For `accept`, always the inherent score.
    pub residual: Option<PairScore>,
    /// Who proposed the current revision.
    pub proposed_by: UserId,
    pub revision: u32,
    pub approvals: Vec<Approval>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

/// The editable plan, as a create or revise body carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreatmentDraft {
    pub option: TreatmentOption,
    pub owner: UserId,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub planned_controls: Vec<String>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    #[serde(default)]
    pub residual: Option<ResidualEstimate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreatmentError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Denied(#[from] ApprovalDenied),
    #[error("cannot {action} a treatment that is {from}")]
    Transition {
        from: TreatmentStatus,
        action: TreatmentAction,
    },
}

struct ValidPlan {
    description: String,
    planned_controls: Vec<ControlId>,
    residual: Option<PairScore>,
}

fn residual_field(e: ValidationError) -> ValidationError {
    let field = match e.field {
        "impact" => "residual.impact",
        "likelihood" => "residual.likelihood",
        other => other,
    };
    ValidationError::new(field, e.problem)
}

impl TreatmentDraft {
    fn validate(
        &self,
        inherent: PairScore,
        config: &RiskMatrixConfig,
        now: Timestamp,
    ) -> Result<ValidPlan, ValidationError> {
        let description = text::prose(
            "description",
            &self.description,
            text::MAX_DESCRIPTION_CHARS,
        )?;
        let mut planned_controls = Vec::with_capacity(self.planned_controls.len());
        for raw in &self.planned_controls {
            let id = ControlId::parse(raw)?;
            if !planned_controls.contains(&id) {
                planned_controls.push(id);
            }
        }
        if planned_controls.len() > MAX_PLANNED_CONTROLS {
            return Err(ValidationError::new(
                "planned_controls",
                Problem::TooMany {
                    max: MAX_PLANNED_CONTROLS,
                },
            ));
        }
        if self.option == TreatmentOption::Mitigate && planned_controls.is_empty() {
            return Err(ValidationError::new("planned_controls", Problem::Empty));
        }
        if self.due_date.is_some_and(|d| d < now.date_naive()) {
            return Err(ValidationError::new(
                "due_date",
                Problem::Inconsistent("must not be in the past"),
            ));
        }
        let residual = match (self.option, self.residual) {
            (TreatmentOption::Accept, None) => Some(inherent),
            (TreatmentOption::Accept, Some(r)) => {
                if (r.impact, r.likelihood) != (inherent.impact, inherent.likelihood) {
                    return Err(ValidationError::new(
                        "residual",
                        Problem::Inconsistent("an accepted risk keeps its inherent score"),
                    ));
                }
                Some(inherent)
            }
            (_, None) => None,
            (_, Some(r)) => {
                let s = config
                    .score(r.impact, r.likelihood)
                    .map_err(residual_field)?;
                if s.score > inherent.score {
                    return Err(ValidationError::new(
                        "residual",
                        Problem::Inconsistent("must not exceed the inherent score"),
                    ));
                }
                Some(s)
            }
        };
        Ok(ValidPlan {
            description,
            planned_controls,
            residual,
        })
    }
}

impl Treatment {
    /// Proposes a treatment for `risk`, planned against its current
    /// inherent score.
    pub fn propose(
        risk: &Risk,
        draft: TreatmentDraft,
        proposed_by: UserId,
        config: &RiskMatrixConfig,
        now: Timestamp,
    ) -> Result<Self, TreatmentError> {
        let plan = draft.validate(risk.inherent, config, now)?;
        Ok(Self {
            id: TreatmentId::new(),
            tenant_id: risk.exposure.tenant_id,
            risk_id: risk.id,
            option: draft.option,
            owner: draft.owner,
            description: plan.description,
            planned_controls: plan.planned_controls,
            due_date: draft.due_date,
            status: TreatmentStatus::Proposed,
            inherent: risk.inherent,
            residual: plan.residual,
            proposed_by,
            revision: 1,
            approvals: Vec::new(),
            created_at: now,
            updated_at: now,
            completed_at: None,
        })
    }

    /// Who may approve this treatment.
    pub fn approval_requirement(&self) -> ApprovalRequirement {
        approval_requirement(self.inherent.level)
    }

    /// The approval of the current revision, if any.
    pub fn current_approval(&self) -> Option<&Approval> {
        self.approvals.iter().find(|a| a.revision == self.revision)
    }

    fn transition(&self, action: TreatmentAction) -> TreatmentError {
        TreatmentError::Transition {
            from: self.status,
            action,
        }
    }

    /// Replaces the plan. Returns it to `proposed` under a new revision by
    /// `by`; a completed treatment is history and is not revised.
    pub fn revise(
        &mut self,
        draft: TreatmentDraft,
        by: UserId,
        config: &RiskMatrixConfig,
        now: Timestamp,
    ) -> Result<(), TreatmentError> {
        if self.status == TreatmentStatus::Done {
            return Err(self.transition(TreatmentAction::Revise));
        }
        let plan = draft.validate(self.inherent, config, now)?;
        self.option = draft.option;
        self.owner = draft.owner;
        self.description = plan.description;
        self.planned_controls = plan.planned_controls;
        self.due_date = draft.due_date;
        self.residual = plan.residual;
        self.reopen(by, now);
        Ok(())
    }

    fn reopen(&mut self, by: UserId, now: Timestamp) {
        self.status = TreatmentStatus::Proposed;
        self.revision = self.revision.saturating_add(1);
        self.proposed_by = by;
        self.updated_at = now;
    }

    /// Approves the current revision. Anything but `accept` must say what
    /// residual risk is expected and by when, since that is what the
    /// approver accepts (6.1.3 f).
    pub fn approve(
        &mut self,
        approver: &Approver,
        comment: Option<&str>,
        now: Timestamp,
    ) -> Result<(), TreatmentError> {
        if self.status != TreatmentStatus::Proposed {
            return Err(self.transition(TreatmentAction::Approve));
        }
        if self.option != TreatmentOption::Accept {
            if self.residual.is_none() {
                return Err(ValidationError::new("residual", Problem::Empty).into());
            }
            if self.due_date.is_none() {
                return Err(ValidationError::new("due_date", Problem::Empty).into());
            }
        }
        self.approval_requirement()
            .check(approver, self.proposed_by)?;
        let comment = text::prose("comment", comment.unwrap_or(""), text::MAX_COMMENT_CHARS)?;
        self.approvals.push(Approval {
            approver: approver.user_id,
            role: approver.role,
            step_up: approver.step_up_verified,
            at: now,
            comment: (!comment.is_empty()).then_some(comment),
            revision: self.revision,
        });
        if self.option == TreatmentOption::Accept {
            self.status = TreatmentStatus::Done;
            self.completed_at = Some(now);
        } else {
            self.status = TreatmentStatus::Approved;
        }
        self.updated_at = now;
        Ok(())
    }

    pub fn start(&mut self, now: Timestamp) -> Result<(), TreatmentError> {
        if self.status != TreatmentStatus::Approved {
            return Err(self.transition(TreatmentAction::Start));
        }
        self.status = TreatmentStatus::InProgress;
        self.updated_at = now;
        Ok(())
    }

    pub fn complete(&mut self, now: Timestamp) -> Result<(), TreatmentError> {
        if self.status != TreatmentStatus::InProgress {
            return Err(self.transition(TreatmentAction::Complete));
        }
        self.status = TreatmentStatus::Done;
        self.completed_at = Some(now);
        self.updated_at = now;
        Ok(())
    }

    /// Follows a re-assessment of the risk. If the risk's level rose, or
    /// the residual estimate now exceeds the inherent score, an approval
    /// no longer covers the plan and the treatment goes back to
    /// `proposed` (the estimate is dropped in the second case). Returns
    /// whether that happened. Completed treatments are history and keep
    /// the score they were made against.
    pub fn rebase(&mut self, inherent: PairScore, now: Timestamp) -> bool {
        if self.status == TreatmentStatus::Done {
            return false;
        }
        let level_rose = inherent.level > self.inherent.level;
        let residual_stale = self.residual.is_some_and(|r| r.score > inherent.score);
        if residual_stale {
            self.residual = None;
        }
        if self.option == TreatmentOption::Accept {
            self.residual = Some(inherent);
        }
        self.inherent = inherent;
        self.updated_at = now;
        let withdrawn = (level_rose || residual_stale) && self.status != TreatmentStatus::Proposed;
        if withdrawn {
            let by = self.proposed_by;
            self.reopen(by, now);
        }
        withdrawn
    }
}

impl Risk {
    /// Puts a completed treatment's residual score into effect. Refused for
    /// another risk's treatment, an unfinished one, or one planned against
    /// a different inherent score than the risk has now.
    pub fn record_treatment(
        &mut self,
        treatment: &Treatment,
        now: Timestamp,
    ) -> Result<(), ValidationError> {
        if treatment.risk_id != self.id {
            return Err(ValidationError::new(
                "risk_id",
                Problem::Inconsistent("the treatment belongs to another risk"),
            ));
        }
        if treatment.status != TreatmentStatus::Done {
            return Err(ValidationError::new(
                "status",
                Problem::Inconsistent("only a completed treatment sets the residual score"),
            ));
        }
        if treatment.inherent.score != self.inherent.score {
            return Err(ValidationError::new(
                "inherent",
                Problem::Inconsistent("the treatment was planned against another inherent score"),
            ));
        }
        let residual = treatment
            .residual
            .ok_or(ValidationError::new("residual", Problem::Empty))?;
        self.residual = Some(residual);
        self.updated_at = now;
        Ok(())
    }
}
