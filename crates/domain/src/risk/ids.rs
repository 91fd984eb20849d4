//! Identifiers of the risk register. Same shape as `crate::ids`: UUIDv7
//! newtypes, so rows stay time-ordered for keyset pagination.

use crate::ids::id_type;

id_type!(
    /// Identifies an asset in the inventory (Annex A 5.9).
    AssetId
);
id_type!(
    /// Identifies a threat in a tenant's threat register.
    ThreatId
);
id_type!(
    /// Identifies a known vulnerability.
    VulnerabilityId
);
id_type!(
    /// Identifies a risk: one asset × threat × optional vulnerability.
    RiskId
);
id_type!(
    /// Identifies one run of the assessment engine over one asset.
    AssessmentId
);
id_type!(
    /// Identifies a risk treatment plan entry.
    TreatmentId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_ordered_and_round_trip() {
        let a = RiskId::new();
        let b = RiskId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
        assert_eq!(a.to_string().parse::<RiskId>().ok(), Some(a));
        assert!(format!("{a:?}").starts_with("RiskId("));
    }
}
