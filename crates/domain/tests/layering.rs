//! The domain crate does no IO: none of the runtime, database, HTTP or
//! cache crates may be reachable from it through normal or build
//! dependencies. Checked on the resolved graph `cargo metadata` reports, so
//! a transitive pull (a dependency that starts depending on tokio) fails
//! here too, not only a direct one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::process::Command;

use serde_json::Value;

/// Whether a package name belongs to the IO stack the domain must not see.
fn is_forbidden(name: &str) -> bool {
    matches!(
        name,
        "tokio" | "sqlx" | "axum" | "hyper" | "reqwest" | "redis"
    ) || name.starts_with("sqlx-")
        || name.starts_with("axum-")
}

/// Whether a resolved dependency edge is a normal or build dependency
/// (dev-dependencies are not part of what users of the crate compile).
fn is_runtime_edge(dep: &Value) -> bool {
    let kinds = dep["dep_kinds"]
        .as_array()
        .expect("cargo metadata too old: resolve.nodes[].deps[].dep_kinds missing");
    kinds
        .iter()
        .any(|k| k["kind"].is_null() || k["kind"].as_str() == Some("build"))
}

fn metadata() -> Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn forbidden_name_matcher() {
    assert!(is_forbidden("sqlx-core"));
    assert!(is_forbidden("tokio"));
    assert!(is_forbidden("axum-core"));
    assert!(is_forbidden("sqlx"));
    assert!(is_forbidden("redis"));
    assert!(!is_forbidden("serde"));
}

#[test]
fn domain_does_not_depend_on_io_crates() {
    let meta = metadata();
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let packages = meta["packages"].as_array().expect("packages");
    let name_of: HashMap<&str, &str> = packages
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let root = packages
        .iter()
        .find(|p| {
            p["name"] == env!("CARGO_PKG_NAME")
                && std::path::Path::new(p["manifest_path"].as_str().unwrap()) == manifest
        })
        .and_then(|p| p["id"].as_str())
        .expect("isms-domain in cargo metadata");
    let nodes: HashMap<&str, &Vec<Value>> = meta["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes (cargo metadata without --no-deps)")
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n["deps"].as_array().unwrap()))
        .collect();

    // Breadth-first walk remembering who pulled each package in, so a
    // failure shows the whole chain.
    let mut parent: HashMap<&str, Option<&str>> = HashMap::from([(root, None)]);
    let mut queue = VecDeque::from([root]);
    let mut violations = Vec::new();
    while let Some(id) = queue.pop_front() {
        let deps = nodes
            .get(id)
            .unwrap_or_else(|| panic!("{id} missing from resolve.nodes"));
        for dep in deps.iter().filter(|d| is_runtime_edge(d)) {
            let dep_id = dep["pkg"].as_str().expect("deps[].pkg");
            if parent.contains_key(dep_id) {
                continue;
            }
            parent.insert(dep_id, Some(id));
            if is_forbidden(name_of[dep_id]) {
                violations.push(dep_id);
            }
            queue.push_back(dep_id);
        }
    }

    let chains: Vec<String> = violations
        .iter()
        .map(|&id| {
            let mut chain = vec![name_of[id]];
            let mut at = id;
            while let Some(Some(up)) = parent.get(at) {
                chain.push(name_of[up]);
                at = up;
            }
            chain.reverse();
            chain.join(" -> ")
        })
        .collect();
    assert!(
        chains.is_empty(),
        "the domain must not depend on IO crates:\n  {}",
        chains.join("\n  ")
    );
    // The walk really followed the graph (the domain has several
    // dependencies of its own), so an empty result is not vacuous.
    assert!(
        parent.len() > 5,
        "walk visited only {} packages: {:?}",
        parent.len(),
        parent.keys().map(|id| name_of[id]).collect::<Vec<_>>()
    );
}
