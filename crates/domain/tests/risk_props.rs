//! Properties of the engine over arbitrary inputs and arbitrary valid
//! methods.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod risk_fixtures;

use isms_domain::TenantId;
use isms_domain::risk::*;
use proptest::prelude::*;
use risk_fixtures::*;

fn classification() -> impl Strategy<Value = Option<Classification>> {
    prop::option::of(prop::sample::select(Classification::ALL.to_vec()))
}

fn targets() -> impl Strategy<Value = Vec<CiaProperty>> {
    prop::sample::subsequence(CiaProperty::ALL.to_vec(), 1..=3)
}

fn vulnerability_kind() -> impl Strategy<Value = Option<(Severity, VulnerabilityStatus)>> {
    prop::option::of((
        prop::sample::select(Severity::ALL.to_vec()),
        prop::sample::select(VulnerabilityStatus::ALL.to_vec()),
    ))
}

fn sorted<const N: usize>(max: u8) -> impl Strategy<Value = [u8; N]> {
    prop::array::uniform::<_, N>(1..=max).prop_map(|mut a| {
        a.sort_unstable();
        a
    })
}

/// Any spec `validate` accepts, built to satisfy the rules by construction.
fn valid_spec() -> impl Strategy<Value = RiskMatrixSpec> {
    (2u8..=10, 2u8..=10)
        .prop_flat_map(|(n, m)| {
            let max = u16::from(n) * u16::from(m);
            (
                Just((n, m)),
                prop::sample::subsequence((2..=max).collect::<Vec<u16>>(), 3),
                sorted::<4>(n),
                sorted::<5>(m),
                sorted::<4>(n),
                prop::array::uniform7(-(m as i8 - 1)..=(m as i8 - 1)),
            )
        })
        .prop_map(|((n, m), t, rating, base, floor, adj)| RiskMatrixSpec {
            impact_levels: (1..=n).map(|i| format!("i{i}")).collect(),
            likelihood_levels: (1..=m).map(|i| format!("l{i}")).collect(),
            thresholds: LevelThresholds {
                medium: t[0],
                high: t[1],
                critical: t[2],
            },
            impact_of_rating: rating,
            likelihood_of_base: base,
            classification_impact_floor: PerClassification {
                public: floor[0],
                internal: floor[1],
                confidential: floor[2],
                restricted: floor[3],
            },
            likelihood_adjustments: LikelihoodAdjustments {
                open: PerSeverity {
                    low: adj[0],
                    medium: adj[1],
                    high: adj[2],
                    critical: adj[3],
                },
                accepted: adj[4],
                mitigated: adj[5],
                no_vulnerability: adj[6],
            },
            ..RiskMatrixSpec::default()
        })
}

fn config() -> impl Strategy<Value = RiskMatrixConfig> {
    prop_oneof![
        Just(RiskMatrixConfig::default()),
        valid_spec().prop_map(|s| RiskMatrixConfig::try_from(s).unwrap()),
    ]
}

proptest! {
    #[test]
    fn every_pair_scores_within_the_matrix(
        config in config(),
        (c, i, a) in (1u8..=4, 1u8..=4, 1u8..=4),
        class in classification(),
        targets in targets(),
        base in prop::sample::select(Likelihood::ALL.to_vec()),
        vuln in vulnerability_kind(),
    ) {
        let t = TenantId::new();
        let asset = asset(t, c, i, a, class);
        let threat = threat(t, &targets, base);
        let vuln = vuln.map(|(sev, st)| vulnerability(t, sev, st));
        let s = score_pair(&asset, &threat, vuln.as_ref(), &config);
        prop_assert!((1..=config.impact_max()).contains(&s.impact));
        prop_assert!((1..=config.likelihood_max()).contains(&s.likelihood));
        prop_assert!((1..=config.max_score()).contains(&s.score));
        prop_assert_eq!(s.score, u16::from(s.impact) * u16::from(s.likelihood));
        prop_assert_eq!(s.level, config.level_of(s.score));
    }

    #[test]
    fn the_default_matrix_tops_out_at_20(
        (c, i, a) in (1u8..=4, 1u8..=4, 1u8..=4),
        class in classification(),
        targets in targets(),
        base in prop::sample::select(Likelihood::ALL.to_vec()),
        vuln in vulnerability_kind(),
    ) {
        let t = TenantId::new();
        let asset = asset(t, c, i, a, class);
        let threat = threat(t, &targets, base);
        let vuln = vuln.map(|(sev, st)| vulnerability(t, sev, st));
        let r = run(&asset, &[(threat, vuln)]);
        prop_assert!((1..=20).contains(&r.risk_score));
    }

    #[test]
    fn level_never_falls_as_score_rises(config in config()) {
        let levels: Vec<RiskLevel> = (1..=config.max_score()).map(|s| config.level_of(s)).collect();
        prop_assert!(levels.windows(2).all(|w| w[0] <= w[1]));
        // Strict thresholds inside the range make every level reachable.
        for l in RiskLevel::ALL {
            prop_assert!(levels.contains(l));
        }
    }

    #[test]
    fn the_asset_score_is_the_maximum_pair(
        ratings in (1u8..=4, 1u8..=4, 1u8..=4),
        pairs in prop::collection::vec((targets(), prop::sample::select(Likelihood::ALL.to_vec()), vulnerability_kind()), 0..8),
    ) {
        let t = TenantId::new();
        let asset = asset(t, ratings.0, ratings.1, ratings.2, Some(Classification::Internal));
        let pairs: Vec<_> = pairs
            .into_iter()
            .map(|(tg, l, v)| (threat(t, &tg, l), v.map(|(s, st)| vulnerability(t, s, st))))
            .collect();
        let r = run(&asset, &pairs);
        let max = r.contributions.iter().map(|c| c.score).max().unwrap_or(0);
        prop_assert_eq!(r.risk_score, max);
        prop_assert_eq!(r.contributions.len(), pairs.len());
    }

    #[test]
    fn mitigating_never_raises_likelihood_under_the_default(
        base in prop::sample::select(Likelihood::ALL.to_vec()),
        sev in prop::sample::select(Severity::ALL.to_vec()),
    ) {
        let t = TenantId::new();
        let th = threat(t, &[CiaProperty::Integrity], base);
        let c = RiskMatrixConfig::default();
        let open = vulnerability(t, sev, VulnerabilityStatus::Open);
        let fixed = vulnerability(t, sev, VulnerabilityStatus::Mitigated);
        prop_assert!(likelihood_of(&th, Some(&fixed), &c) <= likelihood_of(&th, Some(&open), &c));
    }
}
