//! Path-finding in a small directed graph: `p:ab,bc,ad,dc>ac=` -> `abc` (or `adc`).
//!
//! Nodes are the letters `a..=h`; the prompt lists the edges then `>` start goal. Any path from
//! start to goal of at most 8 nodes along listed edges is correct.

use rand::Rng;
use rand::seq::SliceRandom;

use super::body;

const NODES: &[u8] = b"abcdefgh";

pub(super) fn generate<R: Rng>(rng: &mut R) -> (String, String) {
    let mut order = NODES.to_vec();
    order.shuffle(rng);
    let len = rng.gen_range(3..=4);
    let path = &order[..len];
    let mut edges: Vec<[u8; 2]> = path.windows(2).map(|w| [w[0], w[1]]).collect();
    while edges.len() < 6 {
        let (a, b) = (NODES[rng.gen_range(0..NODES.len())], NODES[rng.gen_range(0..NODES.len())]);
        if a != b && !edges.contains(&[a, b]) {
            edges.push([a, b]);
        }
    }
    edges.shuffle(rng);
    let list =
        edges.iter().map(|e| format!("{}{}", e[0] as char, e[1] as char)).collect::<Vec<_>>().join(",");
    let (s, t) = (path[0] as char, path[len - 1] as char);
    (format!("p:{list}>{s}{t}="), path.iter().map(|&b| b as char).collect())
}

pub(super) fn verify(prompt: &str, completion: &str) -> bool {
    let Some((list, ends)) = body(prompt, "p").and_then(|s| s.split_once('>')) else { return false };
    let (ends, nodes) = (ends.as_bytes(), completion.as_bytes());
    if ends.len() != 2 || nodes.len() < 2 || nodes.len() > 8 {
        return false;
    }
    let edges: Vec<&[u8]> = list.split(',').map(str::as_bytes).collect();
    nodes[0] == ends[0] && nodes[nodes.len() - 1] == ends[1] && nodes.windows(2).all(|w| edges.contains(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier() {
        let p = "p:ab,bc,ad,dc>ac=";
        assert!(verify(p, "abc"));
        assert!(verify(p, "adc"));
        assert!(!verify(p, "ac"));
        assert!(!verify(p, "ab"));
        assert!(!verify(p, "cba"));
        assert!(!verify(p, "a"));
        assert!(!verify(p, "ab,c"));
        assert!(!verify("p:ab,bc>a=", "abc"));
    }
}
