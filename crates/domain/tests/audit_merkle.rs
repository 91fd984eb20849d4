#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Merkle tree against the RFC 6962/9162 reference vectors, and
//! property tests on random trees: every planned proof verifies, and any
//! flipped bit makes it fail.

use std::collections::HashMap;

use isms_domain::audit::{
    Frontier, Hash, NodeId, consistency_proof_plan, empty_root, inclusion_proof_plan, leaf_hash,
    root_from_leaves, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn h(s: &str) -> Hash {
    Hash::try_from(unhex(s).as_slice()).unwrap()
}

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("vectors/rfc6962_tree.json")).unwrap()
}

fn hexes(v: &serde_json::Value) -> Vec<Hash> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| h(s.as_str().unwrap()))
        .collect()
}

fn reference_leaves() -> Vec<Hash> {
    vectors()["leaves_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| leaf_hash(&unhex(s.as_str().unwrap())))
        .collect()
}

/// Every perfect-subtree node of a tree, as the store keeps them.
fn all_nodes(leaves: &[Hash]) -> HashMap<NodeId, Hash> {
    let mut f = Frontier::empty();
    let mut nodes = HashMap::new();
    for l in leaves {
        for (id, hash) in f.append(*l) {
            nodes.insert(id, hash);
        }
    }
    nodes
}

fn inclusion(nodes: &HashMap<NodeId, Hash>, seq: u64, size: u64) -> Vec<Hash> {
    inclusion_proof_plan(seq, size)
        .unwrap()
        .assemble(&|id| nodes.get(&id).copied())
        .unwrap()
}

fn consistency(nodes: &HashMap<NodeId, Hash>, from: u64, to: u64) -> Vec<Hash> {
    consistency_proof_plan(from, to)
        .unwrap()
        .assemble(&|id| nodes.get(&id).copied())
        .unwrap()
}

#[test]
fn roots_match_the_reference() {
    let v = vectors();
    let roots = hexes(&v["roots_hex"]);
    let leaves = reference_leaves();
    assert_eq!(empty_root(), roots[0]);
    let mut f = Frontier::empty();
    assert_eq!(f.root(), roots[0]);
    for n in 1..=leaves.len() {
        assert_eq!(root_from_leaves(&leaves[..n]), roots[n], "size {n}");
        f.push(leaves[n - 1]);
        assert_eq!(f.root(), roots[n], "frontier size {n}");
    }
}

#[test]
fn inclusion_proofs_match_the_reference() {
    let v = vectors();
    let roots = hexes(&v["roots_hex"]);
    let leaves = reference_leaves();
    let nodes = all_nodes(&leaves);
    for case in v["inclusion"].as_array().unwrap() {
        let index = case["index"].as_u64().unwrap();
        let size = case["size"].as_u64().unwrap();
        let want = hexes(&case["path_hex"]);
        let got = inclusion(&nodes, index, size);
        assert_eq!(got, want, "index {index} size {size}");
        assert!(verify_inclusion(
            &leaves[index as usize],
            index,
            size,
            &got,
            &roots[size as usize]
        ));
    }
}

#[test]
fn consistency_proofs_match_the_reference() {
    let v = vectors();
    let roots = hexes(&v["roots_hex"]);
    let nodes = all_nodes(&reference_leaves());
    for case in v["consistency"].as_array().unwrap() {
        let from = case["from"].as_u64().unwrap();
        let to = case["to"].as_u64().unwrap();
        let want = hexes(&case["path_hex"]);
        let got = consistency(&nodes, from, to);
        assert_eq!(got, want, "{from} -> {to}");
        assert!(verify_consistency(
            from,
            to,
            &roots[from as usize],
            &roots[to as usize],
            &got
        ));
    }
}

#[test]
fn bad_ranges_are_errors_not_panics() {
    assert!(inclusion_proof_plan(5, 5).is_err());
    assert!(consistency_proof_plan(0, 3).is_err());
    assert!(consistency_proof_plan(4, 3).is_err());
    assert!(consistency_proof_plan(3, 3).unwrap().nodes().is_empty());
    assert!(!verify_inclusion(&[0; 32], 3, 3, &[], &[0; 32]));
    let missing = inclusion_proof_plan(0, 4).unwrap().assemble(&|_| None);
    assert!(missing.is_err());
    assert!(Frontier::from_bytes(3, &[0u8; 32]).is_err());
}

fn flip(mut h: Hash, bit: usize) -> Hash {
    h[bit / 8 % 32] ^= 1 << (bit % 8);
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_inclusion_proof_verifies(size in 1u64..300, pick in any::<u64>(), bit in 0usize..256) {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let nodes = all_nodes(&leaves);
        let seq = pick % size;
        let root = root_from_leaves(&leaves);
        let path = inclusion(&nodes, seq, size);
        prop_assert!(path.len() <= 64 - (size.leading_zeros() as usize) + 1);
        prop_assert!(verify_inclusion(&leaves[seq as usize], seq, size, &path, &root));
        prop_assert!(!verify_inclusion(&flip(leaves[seq as usize], bit), seq, size, &path, &root));
        prop_assert!(!verify_inclusion(&leaves[seq as usize], seq, size, &path, &flip(root, bit)));
        if !path.is_empty() {
            let mut bad = path.clone();
            let i = (pick as usize) % bad.len();
            bad[i] = flip(bad[i], bit);
            prop_assert!(!verify_inclusion(&leaves[seq as usize], seq, size, &bad, &root));
        }
    }

    #[test]
    fn every_consistency_proof_verifies(to in 1u64..300, pick in any::<u64>(), bit in 0usize..256) {
        let leaves: Vec<Hash> = (0..to).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let nodes = all_nodes(&leaves);
        let from = 1 + pick % to;
        let old = root_from_leaves(&leaves[..from as usize]);
        let new = root_from_leaves(&leaves);
        let path = consistency(&nodes, from, to);
        prop_assert!(verify_consistency(from, to, &old, &new, &path));
        prop_assert!(!verify_consistency(from, to, &flip(old, bit), &new, &path));
        prop_assert!(!verify_consistency(from, to, &old, &flip(new, bit), &path));
        if !path.is_empty() {
            let mut bad = path.clone();
            let i = (pick as usize) % bad.len();
            bad[i] = flip(bad[i], bit);
            prop_assert!(!verify_consistency(from, to, &old, &new, &bad));
        }
    }

    #[test]
    fn frontier_matches_the_tree_and_round_trips(size in 0u64..600) {
        let mut f = Frontier::empty();
        let mut leaves = Vec::new();
        for i in 0..size {
            let l = leaf_hash(&i.to_be_bytes());
            leaves.push(l);
            f.push(l);
        }
        prop_assert_eq!(f.root(), root_from_leaves(&leaves));
        let back = Frontier::from_bytes(f.size(), &f.to_bytes()).unwrap();
        prop_assert_eq!(back.root(), f.root());
        prop_assert_eq!(back, f);
    }
}
