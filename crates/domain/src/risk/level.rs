//! Risk levels and tables keyed by them.

use serde::{Deserialize, Serialize};

use super::enums::string_enum;

string_enum!(
    /// The band a risk score falls in. `Ord` is severity: `Low < Critical`.
    RiskLevel, field = "risk_level" {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

/// One value per risk level. A struct rather than a map so that a tenant
/// configuration cannot leave a level out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerLevel<T> {
    pub low: T,
    pub medium: T,
    pub high: T,
    pub critical: T,
}

impl<T> PerLevel<T> {
    pub const fn get(&self, level: RiskLevel) -> &T {
        match level {
            RiskLevel::Low => &self.low,
            RiskLevel::Medium => &self.medium,
            RiskLevel::High => &self.high,
            RiskLevel::Critical => &self.critical,
        }
    }

    /// Values from `Low` to `Critical`.
    pub fn iter(&self) -> impl Iterator<Item = (RiskLevel, &T)> {
        RiskLevel::ALL.iter().map(move |l| (*l, self.get(*l)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_level_lookup_and_order() {
        let t = PerLevel {
            low: 1,
            medium: 2,
            high: 3,
            critical: 4,
        };
        assert_eq!(*t.get(RiskLevel::High), 3);
        let order: Vec<i32> = t.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
        assert!(RiskLevel::Critical > RiskLevel::High);
    }
}
