//! Countdown: reach the target with the given numbers: `c:3,5,7>22=` -> `3*5+7` (or `7*3+...`).
//!
//! An answer is `n1 op n2 op n3 ...` with ops `+ - *` evaluated left to right (no precedence),
//! each given number used at most once. Many answers are valid, which is where max@K training
//! should help most.

use rand::Rng;

use super::{body, number};

const OPS: [char; 3] = ['+', '-', '*'];

pub(super) fn generate<R: Rng>(rng: &mut R) -> (String, String) {
    loop {
        let nums: Vec<i64> = (0..3).map(|_| rng.gen_range(1..10)).collect();
        let mut value = nums[0];
        let mut expr = nums[0].to_string();
        for &n in &nums[1..] {
            let op = OPS[rng.gen_range(0..OPS.len())];
            value = apply(value, op, n);
            expr.push(op);
            expr.push_str(&n.to_string());
        }
        if (1..100).contains(&value) {
            let mut shown = nums.clone();
            shown.sort_unstable();
            let list = shown.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            return (format!("c:{list}>{value}="), expr);
        }
    }
}

fn apply(a: i64, op: char, b: i64) -> i64 {
    match op {
        '+' => a + b,
        '-' => a - b,
        _ => a * b,
    }
}

pub(super) fn verify(prompt: &str, completion: &str) -> bool {
    let Some((list, target)) = body(prompt, "c").and_then(|s| s.split_once('>')) else { return false };
    let Some(target) = number(target) else { return false };
    let mut pool: Vec<i64> = match list.split(',').map(number).collect::<Option<Vec<_>>>() {
        Some(p) => p,
        None => return false,
    };
    let mut value: Option<i64> = None;
    let mut op = '+';
    let mut rest = completion;
    while !rest.is_empty() {
        let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let Some(n) = number(&rest[..end]) else { return false };
        let Some(pos) = pool.iter().position(|&p| p == n) else { return false };
        pool.swap_remove(pos);
        value = Some(value.map_or(n, |v| apply(v, op, n)));
        rest = &rest[end..];
        let mut chars = rest.chars();
        match chars.next() {
            None => break,
            Some(c) if OPS.contains(&c) && !chars.as_str().is_empty() => {
                op = c;
                rest = chars.as_str();
            }
            Some(_) => return false,
        }
    }
    value == Some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier() {
        assert!(verify("c:3,5,7>22=", "3*5+7"));
        assert!(verify("c:3,5,7>22=", "5*3+7"));
        assert!(verify("c:3,5,7>22=", "7+5*3-14").eq(&false)); // 14 not given
        assert!(verify("c:3,5,7>8=", "3+5"));
        assert!(!verify("c:3,5,7>22=", "3*5+7+"));
        assert!(!verify("c:3,5,7>22=", "3*5*7"));
        assert!(!verify("c:3,5,7>15=", "5*3+0"));
        assert!(!verify("c:3,5,7>6=", "3+3"));
        assert!(!verify("c:3,5,7>22=", ""));
        assert!(!verify("c:3,5,7>22=", "+3"));
        assert!(verify("c:3,3,7>6=", "3+3"));
    }
}
