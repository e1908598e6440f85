//! Modular arithmetic: `m:17*13%7=` -> `4` (`a*b mod p`, `a, b` in 2..30, `p` a prime <= 23).
//! The hardest task for a small model: the answer space is tiny, so guessing gives low pass@1
//! but high pass@256.

use rand::Rng;

use super::{body, number};

const PRIMES: [i64; 6] = [7, 11, 13, 17, 19, 23];

pub(super) fn generate<R: Rng>(rng: &mut R) -> (String, String) {
    let a: i64 = rng.gen_range(2..30);
    let b: i64 = rng.gen_range(2..30);
    let p = PRIMES[rng.gen_range(0..PRIMES.len())];
    (format!("m:{a}*{b}%{p}="), ((a * b) % p).to_string())
}

pub(super) fn verify(prompt: &str, completion: &str) -> bool {
    let Some((ab, p)) = body(prompt, "m").and_then(|s| s.split_once('%')) else { return false };
    let Some((a, b)) = ab.split_once('*') else { return false };
    match (number(a), number(b), number(p), number(completion)) {
        (Some(a), Some(b), Some(p), Some(c)) if p > 0 => (a * b) % p == c,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier() {
        assert!(verify("m:17*13%7=", "4"));
        assert!(!verify("m:17*13%7=", "11"));
        assert!(!verify("m:17*13%7=", "04"));
        assert!(!verify("m:17*13%0=", "0"));
        assert!(!verify("m:17+13%7=", "2"));
    }
}
