//! The shared character-level vocabulary of every task.
//!
//! Token 0 is padding, 1 begins a sequence, 2 ends an answer; then one token per character of
//! [`CHARS`]. A sequence is `BOS prompt answer EOS`, the prompt ending in `=`.

use crate::error::{Result, TrainerError};

/// Padding token (never predicted, never attended to as a key).
pub const PAD: u32 = 0;
/// Beginning of sequence.
pub const BOS: u32 = 1;
/// End of answer: sampling stops here.
pub const EOS: u32 = 2;
/// The printable characters, in token order starting at 3.
pub const CHARS: &str = "0123456789+-*%=,:>abcdefghijklmnopqrstuvwxyz";
/// Number of tokens: 3 specials plus [`CHARS`].
pub const VOCAB_SIZE: usize = 3 + CHARS.len();

/// Token id of a character, or an error naming it.
pub fn token(c: char) -> Result<u32> {
    CHARS.find(c).map(|i| i as u32 + 3).ok_or(TrainerError::UnknownChar { c })
}

/// Tokens of `BOS text` (the prompt side of a sequence).
pub fn encode_prompt(prompt: &str) -> Result<Vec<u32>> {
    std::iter::once(Ok(BOS)).chain(prompt.chars().map(token)).collect()
}

/// Tokens of `text EOS` (the answer side of a sequence, the SFT target).
pub fn encode_answer(answer: &str) -> Result<Vec<u32>> {
    answer.chars().map(token).chain(std::iter::once(Ok(EOS))).collect()
}

/// Text of generated tokens up to the first EOS; specials and unknown ids become `?`, which no
/// verifier accepts.
pub fn decode(tokens: &[u32]) -> String {
    tokens
        .iter()
        .take_while(|&&t| t != EOS)
        .map(|&t| if t >= 3 { CHARS.as_bytes().get(t as usize - 3).map_or('?', |&b| b as char) } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let p = encode_prompt("a:12+3=").unwrap();
        assert_eq!(p[0], BOS);
        let a = encode_answer("15").unwrap();
        assert_eq!(*a.last().unwrap(), EOS);
        assert_eq!(decode(&p[1..]), "a:12+3=");
        assert_eq!(decode(&a), "15");
        assert_eq!(decode(&[PAD, 5]), "?2");
        assert!(matches!(token('#'), Err(TrainerError::UnknownChar { c: '#' })));
    }
}
