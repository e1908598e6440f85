//! Sort a string of 4 to 6 digits ascending: `s:52913=` -> `12359`.

use rand::Rng;

use super::body;

pub(super) fn generate<R: Rng>(rng: &mut R) -> (String, String) {
    let len = rng.gen_range(4..=6);
    let digits: Vec<u8> = (0..len).map(|_| b'0' + rng.gen_range(0..10u8)).collect();
    let mut sorted = digits.clone();
    sorted.sort_unstable();
    let text = |d: Vec<u8>| d.into_iter().map(char::from).collect::<String>();
    (format!("s:{}=", text(digits)), text(sorted))
}

pub(super) fn verify(prompt: &str, completion: &str) -> bool {
    let Some(digits) = body(prompt, "s") else { return false };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut sorted = digits.as_bytes().to_vec();
    sorted.sort_unstable();
    completion.as_bytes() == sorted.as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier() {
        assert!(verify("s:52913=", "12359"));
        assert!(!verify("s:52913=", "1235"));
        assert!(!verify("s:52913=", "12395"));
        assert!(!verify("s:52913=", "123599"));
        assert!(!verify("s:5a913=", "1359a"));
    }
}
