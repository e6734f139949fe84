//! Secrets: 32 random bytes, hex, with a prefix saying what the token is for (so people and
//! secret scanners can tell a join token from a device token). Only SHA-256 hashes are stored.

use sha2::{Digest, Sha256};

pub const JOIN_TOKEN_PREFIX: &str = "fdj_";
pub const DEVICE_TOKEN_PREFIX: &str = "fdd_";

/// A fresh token: `prefix` followed by 32 random bytes in hex.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    format!("{prefix}{}", hex::encode(bytes))
}

/// What the database keeps instead of the token.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_stably() {
        let first = generate(JOIN_TOKEN_PREFIX);
        let second = generate(JOIN_TOKEN_PREFIX);
        assert_ne!(first, second);
        assert!(first.starts_with("fdj_"));
        assert_eq!(first.len(), 4 + 64);
        assert_eq!(hash(&first), hash(&first));
        assert_ne!(hash(&first), hash(&second));
        assert_eq!(hash(&first).len(), 32);
    }
}
