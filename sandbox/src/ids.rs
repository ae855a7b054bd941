//! Record ids in EspoCRM's format: 17 lowercase hexadecimal characters, unique per sandbox,
//! deterministic for a given seed so demo data and tests are reproducible.

use crate::random::Rng;

/// Ids and API keys of a running sandbox: outputs of the sandbox's generator printed as hex.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    random: Rng,
    prefix: u64,
}

impl IdGenerator {
    pub fn new(seed: u64) -> IdGenerator {
        // EspoCRM ids start with a time-derived prefix; a fixed one keeps them look-alike.
        IdGenerator {
            // Offset from the demo data's sequence of the same seed.
            random: Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15),
            prefix: 0x6b0,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.random.next_u64()
    }

    pub fn next_id(&mut self) -> String {
        let tail = self.next_u64() & 0x00ff_ffff_ffff_ffff_u64; // 14 hex digits
        format!("{:03x}{:014x}", self.prefix, tail)
    }

    /// A random secret (API keys), 32 hex characters.
    pub fn next_secret(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_u64(), self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_espocrm_format_and_do_not_repeat() {
        let mut g = IdGenerator::new(7);
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| g.next_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|i| {
            i.len() == 17
                && i.chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        }));
    }
}
