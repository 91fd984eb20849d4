//! GDPR records: consents (and the other lawful bases of Art. 6(1)) and
//! data-subject requests with their one-month deadline (Art. 12(3)).
//! Retention lives in `retention`.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::ids::{ConsentId, DsrId};
use super::text::{MAX_LABEL_CHARS, MAX_PROSE_CHARS, MAX_REFERENCE_CHARS, line, prose};
use super::vocab::vocabulary;
use crate::ids::{TenantId, UserId};
use crate::risk::{Problem, ValidationError};
use crate::time::Timestamp;

/// Whose personal data: one of the tenant's users, or someone outside the
/// system known by an opaque id (a customer number, never an e-mail
/// address: the id ends up in logs and check details).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum DataSubject {
    User(UserId),
    External(String),
}

impl DataSubject {
    /// An external subject; the id is trimmed, 1..=128 characters, no
    /// control characters, no `@` (an e-mail address is personal data, not
    /// an id).
    pub fn external(id: &str) -> Result<Self, ValidationError> {
        let id = line("subject.id", id, MAX_REFERENCE_CHARS)?;
        if id.contains('@') {
            return Err(ValidationError::new(
                "subject.id",
                Problem::Malformed {
                    expected: "an opaque id, not an e-mail address",
                },
            ));
        }
        Ok(DataSubject::External(id))
    }

    /// Re-checks a deserialised subject.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match self {
            DataSubject::User(_) => Ok(()),
            DataSubject::External(id) => Self::external(id).and_then(|v| {
                if &v == self {
                    Ok(())
                } else {
                    Err(ValidationError::new(
                        "subject.id",
                        Problem::Inconsistent("must not have surrounding whitespace"),
                    ))
                }
            }),
        }
    }
}

vocabulary!(
    /// The lawful bases of GDPR Art. 6(1), points (a) to (f).
    LawfulBasis, field = "lawful_basis" {
        Consent => "consent",
        Contract => "contract",
        LegalObligation => "legal_obligation",
        VitalInterests => "vital_interests",
        PublicTask => "public_task",
        LegitimateInterests => "legitimate_interests",
    }
);

impl LawfulBasis {
    /// The point of Art. 6(1) the basis is, e.g. `6(1)(a)`.
    pub const fn article(self) -> &'static str {
        match self {
            LawfulBasis::Consent => "6(1)(a)",
            LawfulBasis::Contract => "6(1)(b)",
            LawfulBasis::LegalObligation => "6(1)(c)",
            LawfulBasis::VitalInterests => "6(1)(d)",
            LawfulBasis::PublicTask => "6(1)(e)",
            LawfulBasis::LegitimateInterests => "6(1)(f)",
        }
    }
}

/// Why a GDPR record refused a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GdprError {
    #[error("the consent was already withdrawn")]
    AlreadyWithdrawn,
    #[error("a request cannot go from {from} to {to}")]
    Transition { from: DsrStatus, to: DsrStatus },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// What a caller supplies to record a consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDraft {
    pub subject: DataSubject,
    /// What the data is processed for ("newsletter", "support tickets").
    pub purpose: String,
    pub lawful_basis: LawfulBasis,
    pub given_at: Timestamp,
    /// How the basis can be demonstrated (form and version, contract
    /// number …); required for consent (Art. 7(1)).
    #[serde(default)]
    pub evidence: String,
}

/// A recorded consent or other lawful basis for one purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub id: ConsentId,
    pub tenant_id: TenantId,
    pub subject: DataSubject,
    pub purpose: String,
    pub lawful_basis: LawfulBasis,
    pub given_at: Timestamp,
    pub withdrawn_at: Option<Timestamp>,
    pub evidence: String,
    pub created_at: Timestamp,
}

impl Consent {
    /// Validates `draft` and records it: purpose 1..=200 characters on one
    /// line, evidence at most 2000 (required for consent), `given_at` not
    /// in the future.
    pub fn record(
        tenant_id: TenantId,
        draft: ConsentDraft,
        now: Timestamp,
    ) -> Result<Self, ValidationError> {
        draft.subject.validate()?;
        let purpose = line("purpose", &draft.purpose, MAX_LABEL_CHARS)?;
        let evidence = prose("evidence", &draft.evidence, MAX_PROSE_CHARS)?;
        if draft.lawful_basis == LawfulBasis::Consent && evidence.is_empty() {
            return Err(ValidationError::new("evidence", Problem::Empty));
        }
        if draft.given_at > now {
            return Err(ValidationError::new(
                "given_at",
                Problem::Inconsistent("must not be in the future"),
            ));
        }
        Ok(Self {
            id: ConsentId::new(),
            tenant_id,
            subject: draft.subject,
            purpose,
            lawful_basis: draft.lawful_basis,
            given_at: draft.given_at,
            withdrawn_at: None,
            evidence,
            created_at: now,
        })
    }

    /// Records the withdrawal (Art. 7(3)); for other bases, the end of the
    /// processing or the subject's objection. Once only.
    pub fn withdraw(&mut self, now: Timestamp) -> Result<(), GdprError> {
        if self.withdrawn_at.is_some() {
            return Err(GdprError::AlreadyWithdrawn);
        }
        self.withdrawn_at = Some(now.max(self.given_at));
        Ok(())
    }

    /// Whether the record covers processing at `at`.
    pub fn is_active(&self, at: Timestamp) -> bool {
        self.given_at <= at && self.withdrawn_at.is_none_or(|w| at < w)
    }
}

vocabulary!(
    /// The data-subject rights this system serves: access (Art. 15),
    /// export/portability (Art. 20), erasure (Art. 17), rectification
    /// (Art. 16).
    DsrKind, field = "kind" {
        Access => "access",
        Export => "export",
        Erasure => "erasure",
        Rectification => "rectification",
    }
);

vocabulary!(
    /// Where a request stands. `completed` and `rejected` are final.
    DsrStatus, field = "status" {
        Received => "received",
        InProgress => "in_progress",
        Completed => "completed",
        Rejected => "rejected",
    }
);

impl DsrStatus {
    pub const fn is_open(self) -> bool {
        matches!(self, DsrStatus::Received | DsrStatus::InProgress)
    }

    /// received → in_progress | completed | rejected;
    /// in_progress → completed | rejected; nothing leaves a final state.
    pub const fn can_become(self, to: DsrStatus) -> bool {
        matches!(
            (self, to),
            (
                DsrStatus::Received,
                DsrStatus::InProgress | DsrStatus::Completed | DsrStatus::Rejected
            ) | (
                DsrStatus::InProgress,
                DsrStatus::Completed | DsrStatus::Rejected
            )
        )
    }
}

/// Corrections to a user's account (Art. 16).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rectification {
    pub display_name: Option<String>,
    pub email: Option<String>,
}

/// What a caller supplies to record a request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDraft {
    pub subject: DataSubject,
    pub kind: DsrKind,
    /// Only for rectification of a user.
    #[serde(default)]
    pub changes: Option<Rectification>,
}

/// A data-subject request and its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSubjectRequest {
    pub id: DsrId,
    pub tenant_id: TenantId,
    pub subject: DataSubject,
    pub kind: DsrKind,
    pub status: DsrStatus,
    /// Who recorded the request (and may download its export).
    pub requested_by: UserId,
    pub created_at: Timestamp,
    /// `created_at` + the tenant's deadline (30 days by default).
    pub due_at: Timestamp,
    /// When the request was closed (completed or rejected).
    pub completed_at: Option<Timestamp>,
    /// Why it was rejected (Art. 12(4) requires telling the subject).
    pub rejection_reason: Option<String>,
    pub updated_at: Timestamp,
}

impl DataSubjectRequest {
    /// A request received at `now`, due `deadline_days` later
    /// (`Thresholds::dsr_deadline_days`).
    pub fn receive(
        tenant_id: TenantId,
        subject: DataSubject,
        kind: DsrKind,
        requested_by: UserId,
        now: Timestamp,
        deadline_days: u32,
    ) -> Result<Self, ValidationError> {
        subject.validate()?;
        Ok(Self {
            id: DsrId::new(),
            tenant_id,
            subject,
            kind,
            status: DsrStatus::Received,
            requested_by,
            created_at: now,
            due_at: now + Duration::days(i64::from(deadline_days)),
            completed_at: None,
            rejection_reason: None,
            updated_at: now,
        })
    }

    /// Moves to `to`. Rejecting needs a reason (1..=2000 characters);
    /// other moves take none.
    pub fn transition(
        &mut self,
        to: DsrStatus,
        now: Timestamp,
        reason: Option<&str>,
    ) -> Result<(), GdprError> {
        if !self.status.can_become(to) {
            return Err(GdprError::Transition {
                from: self.status,
                to,
            });
        }
        let reason = match (to, reason) {
            (DsrStatus::Rejected, r) => {
                let r = prose("reason", r.unwrap_or(""), MAX_PROSE_CHARS)?;
                if r.is_empty() {
                    return Err(ValidationError::new("reason", Problem::Empty).into());
                }
                Some(r)
            }
            (_, Some(_)) => {
                return Err(ValidationError::new(
                    "reason",
                    Problem::Inconsistent("only a rejection takes a reason"),
                )
                .into());
            }
            (_, None) => None,
        };
        let now = now.max(self.created_at);
        self.status = to;
        self.rejection_reason = reason;
        if !to.is_open() {
            self.completed_at = Some(now);
        }
        self.updated_at = now;
        Ok(())
    }

    pub fn start(&mut self, now: Timestamp) -> Result<(), GdprError> {
        self.transition(DsrStatus::InProgress, now, None)
    }

    pub fn complete(&mut self, now: Timestamp) -> Result<(), GdprError> {
        self.transition(DsrStatus::Completed, now, None)
    }

    pub fn reject(&mut self, now: Timestamp, reason: &str) -> Result<(), GdprError> {
        self.transition(DsrStatus::Rejected, now, Some(reason))
    }

    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }

    /// Still open strictly after its deadline.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.is_open() && now > self.due_at
    }
}
