//! One scored cell of the risk matrix.

use serde::{Deserialize, Serialize};

use super::level::RiskLevel;

/// Impact and likelihood on the tenant's matrix, their product and the
/// level the product falls in. Built by `RiskMatrixConfig::score`, which
/// keeps the four consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PairScore {
    pub impact: u8,
    pub likelihood: u8,
    pub score: u16,
    pub level: RiskLevel,
}
