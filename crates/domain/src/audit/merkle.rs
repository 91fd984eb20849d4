//! The Merkle tree of RFC 9162 §2.1 over SHA-256: hashes, the compact range
//! an append needs, proof planning against stored perfect-subtree hashes,
//! and proof verification.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("index {index} is outside a tree of size {size}")]
    OutOfRange { index: u64, size: u64 },
    #[error("need 0 < from <= to (got from {from}, to {to})")]
    BadRange { from: u64, to: u64 },
    #[error("stored node {level}/{index} is missing")]
    MissingNode { level: u8, index: u64 },
    #[error("compact range does not match the tree size")]
    BadFrontier,
}

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH over leaf hashes (RFC 9162 §2.1.1).
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(
                &root_from_leaves(&leaves[..k]),
                &root_from_leaves(&leaves[k..]),
            )
        }
    }
}

/// A perfect subtree: leaves `[index · 2^level, (index + 1) · 2^level)`.
/// Level 0 nodes are the leaf hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

/// The compact range of `[0, size)`: the perfect subtrees of the binary
/// decomposition of `size`, largest (leftmost) first. Enough to append and
/// to compute the root without reading the tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Rebuilds a stored compact range; one hash per set bit of `size`.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Result<Self, MerkleError> {
        if bytes.len() != size.count_ones() as usize * 32 {
            return Err(MerkleError::BadFrontier);
        }
        let hashes = bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Self { size, hashes })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.concat()
    }

    /// Appends a leaf; returns every perfect-subtree node this completes,
    /// the leaf itself (level 0) first.
    pub fn append(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let mut out = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.push_with(leaf, |id, h| out.push((id, *h)));
        out
    }

    /// Appends a leaf without reporting nodes (the verifier's hot path).
    pub fn push(&mut self, leaf: Hash) {
        self.push_with(leaf, |_, _| {});
    }

    fn push_with(&mut self, leaf: Hash, mut emit: impl FnMut(NodeId, &Hash)) {
        let index = self.size;
        emit(NodeId { level: 0, index }, &leaf);
        let mut hash = leaf;
        let mut level = 0u8;
        // Each trailing one bit of the old size is a subtree of equal size
        // on the left that the new one completes.
        let mut carry = index;
        while carry & 1 == 1 {
            let left = self.hashes.pop().unwrap_or_default();
            hash = node_hash(&left, &hash);
            level += 1;
            carry >>= 1;
            emit(
                NodeId {
                    level,
                    index: index >> level,
                },
                &hash,
            );
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// MTH of `[0, size)`.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// A range `[start, end)` of leaves whose MTH a proof needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
}

/// The perfect subtrees covering `[start, end)`, left to right. For the
/// ranges RFC 9162's recursion produces (an aligned start), these are the
/// set bits of the length, largest first.
fn decompose(r: Range) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut at = r.start;
    while at < r.end {
        let align = if at == 0 { 63 } else { at.trailing_zeros() };
        let fit = 63 - (r.end - at).leading_zeros();
        let level = align.min(fit);
        out.push(NodeId {
            level: level as u8,
            index: at >> level,
        });
        at += 1 << level;
    }
    out
}

/// What to read for one proof, and how to assemble it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    ranges: Vec<Range>,
    nodes: Vec<NodeId>,
}

impl ProofPlan {
    fn new(ranges: Vec<Range>) -> Self {
        let mut nodes: Vec<NodeId> = ranges.iter().flat_map(|r| decompose(*r)).collect();
        nodes.sort_unstable();
        nodes.dedup();
        Self { ranges, nodes }
    }

    /// The stored nodes the proof is made from (O(log² n) at worst, O(log n)
    /// typically; one query).
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// The proof path, in RFC 9162 order.
    pub fn assemble(
        &self,
        lookup: &dyn Fn(NodeId) -> Option<Hash>,
    ) -> Result<Vec<Hash>, MerkleError> {
        self.ranges
            .iter()
            .map(|r| {
                let parts = decompose(*r);
                let mut hashes = Vec::with_capacity(parts.len());
                for id in parts {
                    hashes.push(lookup(id).ok_or(MerkleError::MissingNode {
                        level: id.level,
                        index: id.index,
                    })?);
                }
                let mut it = hashes.iter().rev();
                let last = *it.next().ok_or(MerkleError::BadFrontier)?;
                Ok(it.fold(last, |acc, left| node_hash(left, &acc)))
            })
            .collect()
    }
}

/// RFC 9162 §2.1.3.1 PATH(m, D[start:end]) as the ranges of its elements.
fn path_ranges(m: u64, start: u64, end: u64, out: &mut Vec<Range>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path_ranges(m, start, start + k, out);
        out.push(Range {
            start: start + k,
            end,
        });
    } else {
        path_ranges(m - k, start + k, end, out);
        out.push(Range {
            start,
            end: start + k,
        });
    }
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[start:end], b) as ranges.
fn subproof_ranges(m: u64, start: u64, end: u64, complete: bool, out: &mut Vec<Range>) {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(Range { start, end });
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof_ranges(m, start, start + k, complete, out);
        out.push(Range {
            start: start + k,
            end,
        });
    } else {
        subproof_ranges(m - k, start + k, end, false, out);
        out.push(Range {
            start,
            end: start + k,
        });
    }
}

pub fn inclusion_proof_plan(seq: u64, tree_size: u64) -> Result<ProofPlan, MerkleError> {
    if seq >= tree_size {
        return Err(MerkleError::OutOfRange {
            index: seq,
            size: tree_size,
        });
    }
    let mut ranges = Vec::new();
    path_ranges(seq, 0, tree_size, &mut ranges);
    Ok(ProofPlan::new(ranges))
}

/// Consistency between the trees of sizes `from` and `to`, `0 < from <= to`
/// (equal sizes give the empty proof).
pub fn consistency_proof_plan(from: u64, to: u64) -> Result<ProofPlan, MerkleError> {
    if from == 0 || from > to {
        return Err(MerkleError::BadRange { from, to });
    }
    let mut ranges = Vec::new();
    if from < to {
        subproof_ranges(from, 0, to, true, &mut ranges);
    }
    Ok(ProofPlan::new(ranges))
}

/// RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    tree_size: u64,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if index >= tree_size {
        return false;
    }
    let (mut fn_, mut sn) = (index, tree_size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && r == *root
}

/// RFC 9162 §2.1.4.2.
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    path: &[Hash],
) -> bool {
    if from == 0 || from > to {
        return false;
    }
    if from == to {
        return path.is_empty() && from_root == to_root;
    }
    let mut path: Vec<Hash> = path.to_vec();
    if from.is_power_of_two() {
        path.insert(0, *from_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (from - 1, to - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    fr == *from_root && sr == *to_root && sn == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposition_covers_ranges_exactly() {
        let ids = decompose(Range { start: 8, end: 13 });
        assert_eq!(
            ids,
            vec![
                NodeId { level: 2, index: 2 },
                NodeId {
                    level: 0,
                    index: 12
                }
            ]
        );
        assert_eq!(
            decompose(Range { start: 0, end: 8 }),
            vec![NodeId { level: 3, index: 0 }]
        );
    }

    #[test]
    fn split_is_largest_power_below() {
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split(1 << 40), 1 << 39);
    }
}
