//! Which reads are compared: each with probability `compare_ratio`, drawn from a
//! per-thread xorshift generator (a few nanoseconds, no lock, no dependency). Random
//! rather than every n-th read, so that a regular traffic pattern can't hide a code path
//! from the comparison.

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // RandomState is seeded from the OS per process, and differs per call.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9e37_79b9_7f4a_7c15);
    h.finish() | 1
}

/// A uniform number in `[0, 1)`.
fn next() -> f64 {
    STATE.with(|s| {
        // xorshift64* (Vigna): good enough to pick reads, never used for security.
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// Whether to compare this read.
#[inline]
pub(crate) fn compare(ratio: f64) -> bool {
    if ratio >= 1.0 {
        true
    } else if ratio <= 0.0 {
        false
    } else {
        next() < ratio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_is_kept_and_the_ends_are_exact() {
        let n = 100_000;
        let hits = (0..n).filter(|_| compare(0.1)).count();
        assert!((9_000..11_000).contains(&hits), "{hits}");
        assert!((0..1000).all(|_| compare(1.0)));
        assert!((0..1000).all(|_| !compare(0.0)));
    }
}
