//! Measures the ring's balance, weighting, zone spread and data movement by
//! hashing 1,000,000 keys `key:%012d`, and prints the markdown tables kept in
//! `bench/RING.md`. Every number is computed here; the output is
//! deterministic, so a re-run reproduces the file exactly.
//!
//! Run: `cargo run --release -p ringkv-cluster --example ring_balance`

use ringkv_cluster::{key_hash, moved, NodeId, Ring, RingNode, DEFAULT_PARTITION_BITS};
use xxhash_rust::xxh3::xxh3_64;

const KEYS: u32 = 1_000_000;
const BITS: [u32; 4] = [8, 10, 12, 14];

/// Node ids as a deployment would have them: arbitrary 64-bit values.
fn id(i: usize) -> NodeId {
    NodeId(xxh3_64(format!("node-{i}").as_bytes()))
}

fn equal_nodes(n: usize) -> Vec<RingNode> {
    (0..n).map(|i| RingNode::new(id(i), 1, "z")).collect()
}

/// Keys per partition for `2^bits` partitions.
fn partition_counts(hashes: &[u64], bits: u32) -> Vec<u64> {
    let mut counts = vec![0u64; 1 << bits];
    for &h in hashes {
        counts[(h >> (64 - bits)) as usize] += 1;
    }
    counts
}

/// Keys held per node, counting a key once on each of its replicas.
fn load(ring: &Ring, counts: &[u64], nodes: &[RingNode]) -> Vec<u64> {
    let mut per = vec![0u64; nodes.len()];
    for (p, &c) in counts.iter().enumerate() {
        for owner in ring.owners(p as u32) {
            if let Some(i) = nodes.iter().position(|n| n.id == *owner) {
                per[i] += c;
            }
        }
    }
    per
}

fn max_min_over_mean(per: &[u64]) -> (f64, f64) {
    let mean = per.iter().sum::<u64>() as f64 / per.len() as f64;
    let max = per.iter().copied().max().unwrap_or(0) as f64;
    let min = per.iter().copied().min().unwrap_or(0) as f64;
    (max / mean, min / mean)
}

/// Proportional shares capped at 1/N (a node holds a partition at most
/// once), the excess spread over the others by weight.
fn ideal_shares(weights: &[f64], n: usize) -> Vec<f64> {
    let cap = 1.0 / n.min(weights.len()) as f64;
    let mut capped = vec![false; weights.len()];
    loop {
        let free: f64 = 1.0 - capped.iter().filter(|&&c| c).count() as f64 * cap;
        let w: f64 = weights
            .iter()
            .zip(&capped)
            .filter(|(_, &c)| !c)
            .map(|(w, _)| w)
            .sum();
        let shares: Vec<f64> = weights
            .iter()
            .zip(&capped)
            .map(|(wi, &c)| if c { cap } else { free * wi / w })
            .collect();
        let mut changed = false;
        for (i, s) in shares.iter().enumerate() {
            if !capped[i] && *s > cap + 1e-12 {
                capped[i] = true;
                changed = true;
            }
        }
        if !changed {
            return shares;
        }
    }
}

fn main() {
    let hashes: Vec<u64> = (0..KEYS)
        .map(|i| key_hash(format!("key:{i:012}").as_bytes()))
        .collect();
    let counts: Vec<Vec<u64>> = BITS.iter().map(|&b| partition_counts(&hashes, b)).collect();
    let default_counts = &counts[BITS
        .iter()
        .position(|&b| b == DEFAULT_PARTITION_BITS)
        .unwrap_or(0)];

    println!("### Load balance (equal weights)\n");
    println!(
        "Keys per node (a key counted on each of its N replicas), as max/mean and \
         min/mean; partition_bits = {} is the default.\n",
        DEFAULT_PARTITION_BITS
    );
    print!("| nodes | N |");
    for b in BITS {
        print!(" bits={b} ({} partitions) max/mean | min/mean |", 1u32 << b);
    }
    println!();
    print!("|---|---|");
    for _ in BITS {
        print!("---|---|");
    }
    println!();
    for n in [3, 5, 10, 50] {
        for replicas in [1, 3] {
            let nodes = equal_nodes(n);
            print!("| {n} | {replicas} |");
            for (bi, &b) in BITS.iter().enumerate() {
                let ring = Ring::new(&nodes, replicas, b);
                let (max, min) = max_min_over_mean(&load(&ring, &counts[bi], &nodes));
                print!(" {max:.3} | {min:.3} |");
            }
            println!();
        }
    }

    println!("\n### Weighted nodes\n");
    println!(
        "4 nodes with weights 1, 1, 1, 2 (bits = {DEFAULT_PARTITION_BITS}): the weight-2 node's \
         share of key-replicas. Ideal = weight / total weight, capped at 1/N because a node \
         holds at most one replica of a partition.\n"
    );
    println!("| N | weight-2 share | ideal | weight-1 share (mean) | ideal | ratio 2:1 |");
    println!("|---|---|---|---|---|---|");
    let mut weighted = equal_nodes(4);
    weighted[3].weight = 2;
    let weights: Vec<f64> = weighted.iter().map(|n| f64::from(n.weight)).collect();
    for replicas in [1, 2, 3] {
        let ring = Ring::new(&weighted, replicas, DEFAULT_PARTITION_BITS);
        let per = load(&ring, default_counts, &weighted);
        let total = per.iter().sum::<u64>() as f64;
        let heavy = per[3] as f64 / total;
        let light = per[..3].iter().sum::<u64>() as f64 / 3.0 / total;
        let ideal = ideal_shares(&weights, replicas);
        println!(
            "| {replicas} | {heavy:.4} | {:.4} | {light:.4} | {:.4} | {:.3} |",
            ideal[3],
            ideal[0],
            heavy / light
        );
    }

    println!("\n### Zones\n");
    println!(
        "6 nodes in 3 zones (two per zone), bits = {DEFAULT_PARTITION_BITS}: fraction of \
         partitions whose N replicas span min(N, 3) distinct zones, and the fullest and \
         emptiest zone's share of key-replicas.\n"
    );
    println!("| N | partitions spanning min(N,3) zones | max zone share | min zone share |");
    println!("|---|---|---|---|");
    let zoned: Vec<RingNode> = (0..6)
        .map(|i| RingNode::new(id(i), 1, format!("zone-{}", i % 3)))
        .collect();
    for replicas in [2, 3] {
        let ring = Ring::new(&zoned, replicas, DEFAULT_PARTITION_BITS);
        let zone_of = |nid: &NodeId| {
            zoned
                .iter()
                .find(|n| n.id == *nid)
                .map(|n| n.zone.clone())
                .unwrap_or_default()
        };
        let spanning = (0..ring.partitions())
            .filter(|&p| {
                let mut zones: Vec<String> = ring.owners(p).iter().map(zone_of).collect();
                zones.sort();
                zones.dedup();
                zones.len() == replicas.min(3)
            })
            .count();
        let per = load(&ring, default_counts, &zoned);
        let total = per.iter().sum::<u64>() as f64;
        let zone_share: Vec<f64> = (0..3)
            .map(|z| (z..6).step_by(3).map(|i| per[i]).sum::<u64>() as f64 / total)
            .collect();
        println!(
            "| {replicas} | {:.4} | {:.4} | {:.4} |",
            spanning as f64 / f64::from(ring.partitions()),
            zone_share.iter().cloned().fold(0.0, f64::max),
            zone_share.iter().cloned().fold(1.0, f64::min),
        );
    }

    println!("\n### Movement on membership change\n");
    println!(
        "Equal weights, one zone, bits = {DEFAULT_PARTITION_BITS}. Moved = fraction of the new \
         ring's key-replicas whose holder did not hold them before (data a rebalance copies). \
         Ideal = the joining node's fair share 1/(nodes after), or the leaving node's share \
         1/(nodes before). \"Between staying nodes\" counts key-replicas gained by a node other \
         than the joiner, or taken from a node other than the leaver (must be 0).\n"
    );
    println!("| change | N | moved | ideal | moved / ideal | between staying nodes |");
    println!("|---|---|---|---|---|---|");
    let changes: [(usize, usize); 6] = [(3, 4), (5, 6), (10, 11), (50, 51), (4, 3), (10, 9)];
    for replicas in [3, 1] {
        for (before, after) in changes {
            let old_nodes = equal_nodes(before);
            let new_nodes = equal_nodes(after);
            let old = Ring::new(&old_nodes, replicas, DEFAULT_PARTITION_BITS);
            let new = Ring::new(&new_nodes, replicas, DEFAULT_PARTITION_BITS);
            let diff = moved(&old, &new);
            let (joiner, leaver) = if after > before {
                (Some(id(before)), None)
            } else {
                (None, Some(id(after)))
            };
            let mut moved_keys = 0u64;
            let mut stray = 0u64;
            for c in &diff.changes {
                let keys = default_counts[c.partition as usize];
                moved_keys += keys * c.gained.len() as u64;
                stray += keys
                    * c.gained
                        .iter()
                        .filter(|g| joiner.is_some_and(|j| j != **g))
                        .count() as u64;
                stray += keys
                    * c.lost
                        .iter()
                        .filter(|l| leaver.is_some_and(|x| x != **l))
                        .count() as u64;
            }
            let slots = u64::from(KEYS) * new.effective_replicas() as u64;
            let frac = moved_keys as f64 / slots as f64;
            let ideal = 1.0 / before.max(after) as f64;
            println!(
                "| {before} → {after} | {replicas} | {frac:.4} | {ideal:.4} | {:.3} | {stray} |",
                frac / ideal
            );
        }
    }
}
