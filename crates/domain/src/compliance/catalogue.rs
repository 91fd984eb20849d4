//! The ISO/IEC 27001:2022 Annex A catalogue (93 controls in four themes)
//! and the correspondence from the 2013 numbering for the sections the
//! seed data names (A.9, A.10, A.12, A.14, A.17).
//!
//! Both tables are data files embedded at compile time
//! (`data/annex_a_2022.json`, `data/annex_a_2013_to_2022.json`) and parsed
//! once. Only identifiers, titles and themes are stored, never the text
//! of the controls.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::vocab::vocabulary;

/// The embedded 2022 catalogue.
pub const ANNEX_A_2022_JSON: &str = include_str!("../../data/annex_a_2022.json");
/// The embedded 2013 → 2022 correspondence.
pub const ANNEX_A_2013_MAPPING_JSON: &str = include_str!("../../data/annex_a_2013_to_2022.json");

vocabulary!(
    /// The four themes of the 2022 edition; the control id's first digit.
    Theme, field = "theme" {
        /// 5.x, 37 controls.
        Organizational => "organizational",
        /// 6.x, 8 controls.
        People => "people",
        /// 7.x, 14 controls.
        Physical => "physical",
        /// 8.x, 34 controls.
        Technological => "technological",
    }
);

impl Theme {
    /// The clause number of the theme (`5` for organizational …).
    pub const fn number(self) -> u8 {
        match self {
            Theme::Organizational => 5,
            Theme::People => 6,
            Theme::Physical => 7,
            Theme::Technological => 8,
        }
    }

    /// How many controls the theme holds in the 2022 edition.
    pub const fn control_count(self) -> usize {
        match self {
            Theme::Organizational => 37,
            Theme::People => 8,
            Theme::Physical => 14,
            Theme::Technological => 34,
        }
    }
}

/// One Annex A control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnexAControl {
    /// `5.1` … `8.34`.
    pub id: String,
    pub title: String,
    pub theme: Theme,
}

/// One 2013 control and the 2022 controls that took it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping2013 {
    /// `A.9.4.2`.
    pub id_2013: String,
    pub title_2013: String,
    pub controls_2022: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[allow(dead_code)]
    source: String,
    controls: Vec<AnnexAControl>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[allow(dead_code)]
    source: String,
    mappings: Vec<Mapping2013>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("annex A data is not JSON of the expected shape: {0}")]
    Format(String),
    #[error("annex A data is inconsistent: {0}")]
    Inconsistent(String),
}

/// The parsed catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnexACatalogue {
    controls: Vec<AnnexAControl>,
    mappings: Vec<Mapping2013>,
}

impl AnnexACatalogue {
    /// Parses and checks both tables: the controls are numbered 1..n in
    /// each theme without gaps, with the 2022 counts, and every mapping
    /// points at controls that exist.
    pub fn parse(controls_json: &str, mapping_json: &str) -> Result<Self, CatalogueError> {
        let file: CatalogueFile = serde_json::from_str(controls_json)
            .map_err(|e| CatalogueError::Format(e.to_string()))?;
        let map: MappingFile = serde_json::from_str(mapping_json)
            .map_err(|e| CatalogueError::Format(e.to_string()))?;
        let mut expected = Vec::with_capacity(93);
        for theme in Theme::ALL {
            for n in 1..=theme.control_count() {
                expected.push((format!("{}.{n}", theme.number()), *theme));
            }
        }
        if file.controls.len() != expected.len() {
            return Err(CatalogueError::Inconsistent(format!(
                "{} controls, expected {}",
                file.controls.len(),
                expected.len()
            )));
        }
        for (c, (id, theme)) in file.controls.iter().zip(&expected) {
            if &c.id != id || c.theme != *theme {
                return Err(CatalogueError::Inconsistent(format!(
                    "control {} ({}) where {id} ({theme}) belongs",
                    c.id, c.theme
                )));
            }
            if c.title.trim().is_empty() || c.title.trim() != c.title {
                return Err(CatalogueError::Inconsistent(format!("title of {id}")));
            }
        }
        let known = |id: &str| file.controls.iter().any(|c| c.id == id);
        for (i, m) in map.mappings.iter().enumerate() {
            if map.mappings[..i].iter().any(|p| p.id_2013 == m.id_2013) {
                return Err(CatalogueError::Inconsistent(format!(
                    "{} mapped twice",
                    m.id_2013
                )));
            }
            if m.controls_2022.is_empty() || !m.controls_2022.iter().all(|c| known(c)) {
                return Err(CatalogueError::Inconsistent(format!(
                    "{} maps to an unknown control",
                    m.id_2013
                )));
            }
        }
        Ok(Self {
            controls: file.controls,
            mappings: map.mappings,
        })
    }

    pub fn controls(&self) -> &[AnnexAControl] {
        &self.controls
    }

    pub fn mappings(&self) -> &[Mapping2013] {
        &self.mappings
    }

    pub fn control(&self, id: &str) -> Option<&AnnexAControl> {
        let id = id.trim();
        let id = id.strip_prefix("A.").unwrap_or(id);
        self.controls.iter().find(|c| c.id == id)
    }

    /// The 2022 controls a 2013 control maps to; `A.9.4.2` and `9.4.2`
    /// are both accepted. Empty for ids outside the mapped sections.
    pub fn map_2013(&self, id: &str) -> Vec<&str> {
        let id = id.trim();
        let bare = id.strip_prefix("A.").unwrap_or(id);
        self.mappings
            .iter()
            .find(|m| m.id_2013.strip_prefix("A.") == Some(bare))
            .map(|m| m.controls_2022.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// The embedded catalogue, parsed on first use. A test parses the same
/// bytes, so the error arm is unreachable in a tested build.
pub fn catalogue() -> Result<&'static AnnexACatalogue, &'static CatalogueError> {
    static CATALOGUE: OnceLock<Result<AnnexACatalogue, CatalogueError>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| AnnexACatalogue::parse(ANNEX_A_2022_JSON, ANNEX_A_2013_MAPPING_JSON))
        .as_ref()
}

/// All 93 controls in catalogue order (empty only if the embedded data
/// were broken, which `catalogue()`'s test rules out).
pub fn all_controls() -> &'static [AnnexAControl] {
    catalogue().map(AnnexACatalogue::controls).unwrap_or(&[])
}

/// The control with this id (`8.24`, or `A.8.24`).
pub fn control(id: &str) -> Option<&'static AnnexAControl> {
    catalogue().ok().and_then(|c| c.control(id))
}

/// The 2022 controls that replace a 2013 control (`A.9.4.2` → `["8.5"]`).
pub fn map_2013(id: &str) -> Vec<&'static str> {
    catalogue().map(|c| c.map_2013(id)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_parses() {
        assert!(catalogue().is_ok(), "{:?}", catalogue().err());
    }

    #[test]
    fn gaps_and_wrong_themes_are_refused() {
        let broken = ANNEX_A_2022_JSON.replace("\"id\": \"5.2\"", "\"id\": \"5.99\"");
        assert!(matches!(
            AnnexACatalogue::parse(&broken, ANNEX_A_2013_MAPPING_JSON),
            Err(CatalogueError::Inconsistent(_))
        ));
        let bad_map = ANNEX_A_2013_MAPPING_JSON.replace("[\"8.5\"]", "[\"8.99\"]");
        assert!(AnnexACatalogue::parse(ANNEX_A_2022_JSON, &bad_map).is_err());
    }

    #[test]
    fn lookups_accept_the_a_prefix() {
        assert_eq!(
            control("A.8.24").map(|c| c.title.as_str()),
            Some("Use of cryptography")
        );
        assert_eq!(map_2013("9.4.2"), vec!["8.5"]);
        assert!(map_2013("A.18.1.1").is_empty());
    }
}
