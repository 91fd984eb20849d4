//! Exposures and risks. An exposure says an asset is open to a threat,
//! possibly through a known vulnerability; a risk is an exposure with its
//! current score. The exposure is the risk's natural key: storage keeps it
//! unique per tenant, so re-assessing updates a risk instead of adding one.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::asset::Asset;
use super::ids::{AssetId, RiskId, ThreatId, VulnerabilityId};
use super::score::PairScore;
use super::threat::Threat;
use super::vulnerability::Vulnerability;
use crate::ids::TenantId;
use crate::time::Timestamp;

/// An entity of another tenant was linked. Tenancy is also enforced by
/// row-level security; this check keeps a wiring bug from silently mixing
/// two organisations' registers in one assessment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {id} belongs to another tenant")]
pub struct ForeignTenant {
    pub kind: &'static str,
    pub id: Uuid,
}

pub(crate) fn same_tenant(
    tenant: TenantId,
    threat: &Threat,
    vulnerability: Option<&Vulnerability>,
) -> Result<(), ForeignTenant> {
    if threat.tenant_id != tenant {
        return Err(ForeignTenant {
            kind: "threat",
            id: threat.id.as_uuid(),
        });
    }
    match vulnerability {
        Some(v) if v.tenant_id != tenant => Err(ForeignTenant {
            kind: "vulnerability",
            id: v.id.as_uuid(),
        }),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Exposure {
    pub tenant_id: TenantId,
    pub asset_id: AssetId,
    pub threat_id: ThreatId,
    pub vulnerability_id: Option<VulnerabilityId>,
}

impl Exposure {
    /// Links the three, refusing entities of different tenants.
    pub fn link(
        asset: &Asset,
        threat: &Threat,
        vulnerability: Option<&Vulnerability>,
    ) -> Result<Self, ForeignTenant> {
        same_tenant(asset.tenant_id, threat, vulnerability)?;
        Ok(Self {
            tenant_id: asset.tenant_id,
            asset_id: asset.id,
            threat_id: threat.id,
            vulnerability_id: vulnerability.map(|v| v.id),
        })
    }
}

/// An entry of the risk register (ISO 27001 6.1.2 c–e).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Risk {
    pub id: RiskId,
    pub exposure: Exposure,
    pub inherent: PairScore,
    /// The score once a treatment is complete; `None` while untreated.
    pub residual: Option<PairScore>,
    pub assessed_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Risk {
    pub fn new(exposure: Exposure, inherent: PairScore, now: Timestamp) -> Self {
        Self {
            id: RiskId::new(),
            exposure,
            inherent,
            residual: None,
            assessed_at: now,
            created_at: now,
            updated_at: now,
        }
    }

    /// Takes a new inherent score from a re-assessment. If the score
    /// changed, the residual one is dropped: it was estimated (and
    /// approved) against a different picture of the risk, and an accepted
    /// risk that grew must be accepted again. The risk then counts as
    /// untreated until a treatment is recorded again.
    pub fn rescore(&mut self, inherent: PairScore, now: Timestamp) {
        if inherent.score != self.inherent.score {
            self.residual = None;
        }
        self.inherent = inherent;
        self.assessed_at = now;
        self.updated_at = now;
    }

    /// The score that stands after treatment: the residual one if a
    /// treatment is complete, else the inherent one (an untreated risk is
    /// carried in full).
    pub fn current(&self) -> PairScore {
        self.residual.unwrap_or(self.inherent)
    }
}
