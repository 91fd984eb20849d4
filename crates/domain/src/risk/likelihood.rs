//! The five-step likelihood scale threats are rated on.

use super::enums::string_enum;

string_enum!(
    /// How often a threat is expected to materialise without regard to any
    /// particular weakness. The tenant's matrix maps these onto its own
    /// likelihood axis (`RiskMatrixSpec::likelihood_of_base`).
    Likelihood, field = "base_likelihood" {
        Rare => "rare",
        Unlikely => "unlikely",
        Possible => "possible",
        Likely => "likely",
        AlmostCertain => "almost_certain",
    }
);

impl Likelihood {
    /// 1 (rare) to 5 (almost certain).
    pub const fn value(self) -> u8 {
        match self {
            Likelihood::Rare => 1,
            Likelihood::Unlikely => 2,
            Likelihood::Possible => 3,
            Likelihood::Likely => 4,
            Likelihood::AlmostCertain => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_declaration_order() {
        let values: Vec<u8> = Likelihood::ALL.iter().map(|l| l.value()).collect();
        assert_eq!(values, vec![1, 2, 3, 4, 5]);
        assert_eq!(
            Likelihood::parse("almost_certain"),
            Ok(Likelihood::AlmostCertain)
        );
    }
}
