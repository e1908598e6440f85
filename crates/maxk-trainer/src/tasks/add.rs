//! Multi-digit addition with carries: `a:478+56=` -> `534`. Operands have 2 or 3 digits.

use rand::Rng;

use super::{body, number};

pub(super) fn generate<R: Rng>(rng: &mut R) -> (String, String) {
    let a: i64 = rng.gen_range(10..1000);
    let b: i64 = rng.gen_range(10..1000);
    (format!("a:{a}+{b}="), (a + b).to_string())
}

pub(super) fn verify(prompt: &str, completion: &str) -> bool {
    let Some((a, b)) = body(prompt, "a").and_then(|s| s.split_once('+')) else { return false };
    match (number(a), number(b), number(completion)) {
        (Some(a), Some(b), Some(c)) => a + b == c,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier() {
        assert!(verify("a:478+56=", "534"));
        assert!(!verify("a:478+56=", "533"));
        assert!(!verify("a:478+56=", "0534"));
        assert!(!verify("a:478+56=", "53a"));
        assert!(!verify("a:478+56=", ""));
        assert!(!verify("x:478+56=", "534"));
        assert!(!verify("a:478-56=", "422"));
    }
}
