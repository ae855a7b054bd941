//! The sandbox's one pseudo-random generator, behind both the record ids and API keys of a
//! running sandbox ([`crate::ids`]) and the demo data ([`crate::seed`]): deterministic for a
//! seed, so the same seed always gives the same ids, keys and records.

/// A splitmix64 sequence: tiny, fast and good enough for ids and demo data; no dependency
/// needed. Not for secrets that must resist guessing: the sandbox's keys are test credentials.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The sequence of `seed`: the same seed always gives the same numbers.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next number, uniform over all of `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index into a collection of `len` items (0 when empty).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Uniform in `lo..=hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = hi.abs_diff(lo).saturating_add(1);
        lo.wrapping_add(self.below(span) as i64)
    }

    /// True `p` times in 100.
    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// One of `items`, uniformly.
    pub fn pick<T: Copy, const N: usize>(&mut self, items: &[T; N]) -> T {
        const { assert!(N > 0) };
        items[self.index(N)]
    }

    /// One of `items`, each as likely as its weight.
    pub fn weighted<T: Copy, const N: usize>(&mut self, items: &[(T, u64); N]) -> T {
        const { assert!(N > 0) };
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut r = self.below(total);
        for &(value, weight) in items {
            if r < weight {
                return value;
            }
            r -= weight;
        }
        items[N - 1].0
    }

    /// The `i`-th option for the first `N` records (so every option occurs), weighted after.
    pub fn covering<T: Copy, const N: usize>(&mut self, i: usize, items: &[(T, u64); N]) -> T {
        match items.get(i) {
            Some(&(value, _)) => value,
            None => self.weighted(items),
        }
    }

    /// Puts `items` in a random order (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }

    /// Up to `max` distinct items of `items`, at least one when `items` is not empty.
    pub fn some_of<T: Clone>(&mut self, items: &[T], max: usize) -> Vec<T> {
        let mut pool = items.to_vec();
        self.shuffle(&mut pool);
        let wanted = 1 + self.index(max.max(1));
        pool.truncate(wanted);
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn should_give_the_reference_splitmix64_sequence() {
        let mut random = Rng::new(0);
        assert_eq!(random.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(random.next_u64(), 0x6e78_9e6a_a1b9_65f4);
    }
}
