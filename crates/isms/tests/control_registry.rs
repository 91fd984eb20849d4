//! The control registry (`docs/control-registry.yaml`) is the auditor's
//! index from an Annex A control to the code and tests that implement it.
//! These tests keep it true: every control exists in the shipped
//! catalogue under the same title, every listed file exists, every listed
//! test is still defined, and it agrees with the built-in evidence map the
//! Statement of Applicability shows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use isms_domain::compliance::{FEATURES, control};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    controls: Vec<Entry>,
    #[serde(default)]
    pending: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    title: String,
    how: String,
    implementation: Vec<String>,
    tests: Vec<String>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn registry() -> Registry {
    let path = repo_root().join("docs/control-registry.yaml");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Whether `source` defines a function called `name` (a `#[test]`, a
/// `#[tokio::test]` or a per-backend wrapper).
fn defines_fn(source: &str, name: &str) -> bool {
    source.match_indices(name).any(|(at, _)| {
        let before = source[..at].trim_end();
        let after = &source[at + name.len()..];
        before.ends_with("fn") && after.trim_start().starts_with(['(', '<'])
    })
}

#[test]
fn every_control_is_in_the_catalogue_with_its_title() {
    let registry = registry();
    assert!(!registry.controls.is_empty());
    let mut seen = BTreeSet::new();
    for entry in &registry.controls {
        assert!(seen.insert(entry.id.clone()), "{} listed twice", entry.id);
        let known = control(&entry.id)
            .unwrap_or_else(|| panic!("{} is not an ISO 27001:2022 Annex A control", entry.id));
        assert_eq!(known.title, entry.title, "title of {}", entry.id);
        assert!(!entry.how.trim().is_empty(), "{} says how", entry.id);
        assert!(
            !entry.implementation.is_empty(),
            "{} names its code",
            entry.id
        );
        assert!(!entry.tests.is_empty(), "{} names its tests", entry.id);
    }
}

#[test]
fn every_listed_file_exists() {
    let root = repo_root();
    for entry in registry().controls {
        for file in &entry.implementation {
            assert!(
                root.join(file).exists(),
                "{}: implementation {file} does not exist",
                entry.id
            );
        }
    }
}

#[test]
fn every_listed_test_is_defined_in_its_file() {
    let root = repo_root();
    for entry in registry().controls {
        for test in &entry.tests {
            let (file, name) = test
                .split_once("::")
                .unwrap_or_else(|| panic!("{}: `{test}` is not file::function", entry.id));
            let source = std::fs::read_to_string(root.join(file))
                .unwrap_or_else(|e| panic!("{}: test file {file}: {e}", entry.id));
            assert!(
                defines_fn(&source, name),
                "{}: {file} no longer defines {name}",
                entry.id
            );
        }
    }
}

#[test]
fn registry_and_evidence_map_name_the_same_controls() {
    let registry = registry();
    let listed: BTreeSet<&str> = registry.controls.iter().map(|e| e.id.as_str()).collect();
    let pending: BTreeSet<&str> = registry.pending.iter().map(String::as_str).collect();
    let evidenced: BTreeSet<&str> = FEATURES
        .iter()
        .flat_map(|f| f.controls.iter().copied())
        .collect();

    for id in &pending {
        assert!(!listed.contains(id), "{id} is both implemented and pending");
        assert!(
            evidenced.contains(id),
            "pending {id} is not in the evidence map"
        );
    }
    for id in &evidenced {
        assert!(
            listed.contains(id) || pending.contains(id),
            "the evidence map claims {id}; the registry must list it (or mark it pending)"
        );
    }
    for id in &listed {
        assert!(
            evidenced.contains(id),
            "the registry lists {id} but no built-in feature evidences it in the SoA"
        );
    }
}

#[test]
fn the_test_name_matcher_needs_a_definition() {
    let source = "async fn lockout_after_consecutive_failures() {}\nfn call() { \
                  password_spraying_is_stopped(); }";
    assert!(defines_fn(source, "lockout_after_consecutive_failures"));
    assert!(!defines_fn(source, "password_spraying_is_stopped"));
    assert!(!defines_fn(source, "lockout_after"));
}
