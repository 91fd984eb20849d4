//! Counts of risks per matrix cell, for the register's heat maps.

use serde::{Deserialize, Serialize};

use super::config::RiskMatrixConfig;
use super::exposure::Risk;
use super::score::PairScore;

/// `cells[impact - 1][likelihood - 1]`: rows by impact, lowest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeatmapGrid {
    pub cells: Vec<Vec<u32>>,
    /// Risks scored off this matrix (under an earlier, larger one), so
    /// that `total()` always equals the number of risks counted.
    pub out_of_range: u32,
}

impl HeatmapGrid {
    fn new(config: &RiskMatrixConfig) -> Self {
        let row = vec![0; usize::from(config.likelihood_max())];
        Self {
            cells: vec![row; usize::from(config.impact_max())],
            out_of_range: 0,
        }
    }

    fn add(&mut self, s: PairScore) {
        let cell = usize::from(s.impact)
            .checked_sub(1)
            .zip(usize::from(s.likelihood).checked_sub(1))
            .and_then(|(i, l)| self.cells.get_mut(i)?.get_mut(l));
        match cell {
            Some(c) => *c = c.saturating_add(1),
            None => self.out_of_range = self.out_of_range.saturating_add(1),
        }
    }

    /// The count at a 1-based cell; 0 off the grid.
    pub fn count(&self, impact: u8, likelihood: u8) -> u32 {
        usize::from(impact)
            .checked_sub(1)
            .zip(usize::from(likelihood).checked_sub(1))
            .and_then(|(i, l)| self.cells.get(i)?.get(l).copied())
            .unwrap_or(0)
    }

    pub fn total(&self) -> u32 {
        self.cells
            .iter()
            .flatten()
            .fold(self.out_of_range, |acc, c| acc.saturating_add(*c))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heatmap {
    pub inherent: HeatmapGrid,
    /// Untreated risks count at their inherent cell: an untreated risk is
    /// carried in full, and both maps then cover the same risks.
    pub residual: HeatmapGrid,
}

pub fn heatmap<'a>(
    risks: impl IntoIterator<Item = &'a Risk>,
    config: &RiskMatrixConfig,
) -> Heatmap {
    let mut inherent = HeatmapGrid::new(config);
    let mut residual = HeatmapGrid::new(config);
    for r in risks {
        inherent.add(r.inherent);
        residual.add(r.current());
    }
    Heatmap { inherent, residual }
}
