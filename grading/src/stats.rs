//! Pass-rate statistics: the 95% Wilson score interval of a test's pass rate, and how many runs
//! it takes to tell a given per-run failure rate from zero (to choose `--runs`).

/// The normal quantile of a two-sided 95% interval.
pub const Z95: f64 = 1.959964;

/// The 95% Wilson score interval `(low, high)` of the pass rate of `passes` out of `runs`.
/// With no runs nothing is known: `(0, 1)`. It stays within [0, 1], reaches 1 exactly when every
/// run passed and 0 exactly when none did.
pub fn wilson95(passes: usize, runs: usize) -> (f64, f64) {
    if runs == 0 {
        return (0.0, 1.0);
    }
    let n = runs as f64;
    let p = passes.min(runs) as f64 / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    let low = if passes == 0 { 0.0 } else { center - half };
    let high = if passes >= runs { 1.0 } else { center + half };
    (low.clamp(0.0, 1.0), high.clamp(0.0, 1.0))
}

/// The fewest runs that a bug failing a fraction `failure_rate` of runs escapes with probability
/// at most 5%: the smallest n with (1 - p)^n <= 0.05 (1% -> 299, 5% -> 59). `None` for a rate of
/// zero or less, which no number of runs shows.
pub fn runs_to_detect(failure_rate: f64) -> Option<u64> {
    if failure_rate.is_nan() || failure_rate <= 0.0 {
        return None;
    }
    if failure_rate >= 1.0 {
        return Some(1);
    }
    // A tolerance so that an exact boundary (p = 0.95, n = 1) is not lost to rounding.
    let escapes = |n: u64| (1.0 - failure_rate).powf(n as f64) > 0.05 + 1e-12;
    let mut n = (0.05f64.ln() / (1.0 - failure_rate).ln()).ceil().max(1.0) as u64;
    // Guard the rounding of the logarithms at an exact boundary.
    while n > 1 && !escapes(n - 1) {
        n -= 1;
    }
    while escapes(n) {
        n += 1;
    }
    Some(n)
}

/// The smallest per-run failure rate that `runs` runs catch (fail at least once) 95% of the
/// time: 1 - 0.05^(1/runs), the inverse of [`runs_to_detect`] (10 runs -> 26%). 1 without runs.
pub fn detectable_rate(runs: usize) -> f64 {
    match runs {
        0 => 1.0,
        n => 1.0 - 0.05f64.powf(1.0 / n as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: (f64, f64), want: (f64, f64)) {
        let ok = (got.0 - want.0).abs() < 1e-5 && (got.1 - want.1).abs() < 1e-5;
        assert!(ok, "got {got:?}, want {want:?}");
    }

    #[test]
    fn wilson_known_values() {
        // Computed independently: center ± half-width of the Wilson formula, z = 1.959964.
        close(wilson95(10, 10), (0.72247, 1.0));
        close(wilson95(0, 10), (0.0, 0.27753));
        close(wilson95(5, 10), (0.23659, 0.76341));
        close(wilson95(9, 10), (0.59585, 0.98212));
        close(wilson95(1, 1), (0.20655, 1.0));
        close(wilson95(100, 100), (0.96301, 1.0));
        close(wilson95(95, 100), (0.88825, 0.97846));
    }

    #[test]
    fn wilson_edges() {
        assert_eq!(wilson95(0, 0), (0.0, 1.0));
        assert_eq!(wilson95(7, 7).1, 1.0);
        assert_eq!(wilson95(0, 7).0, 0.0);
        // All passes: the lower bound is n / (n + z²).
        let n = 30.0;
        assert!((wilson95(30, 30).0 - n / (n + Z95 * Z95)).abs() < 1e-12);
        // Narrower with more runs, always containing the observed rate.
        for runs in 1..200 {
            for passes in 0..=runs {
                let (lo, hi) = wilson95(passes, runs);
                let p = passes as f64 / runs as f64;
                assert!(
                    0.0 <= lo && lo <= p && p <= hi && hi <= 1.0,
                    "{passes}/{runs}"
                );
            }
        }
        assert!(wilson95(100, 100).0 > wilson95(10, 10).0);
    }

    #[test]
    fn runs_needed() {
        assert_eq!(runs_to_detect(0.10), Some(29));
        assert_eq!(runs_to_detect(0.05), Some(59));
        assert_eq!(runs_to_detect(0.02), Some(149));
        assert_eq!(runs_to_detect(0.01), Some(299));
        assert_eq!(runs_to_detect(0.005), Some(598));
        assert_eq!(runs_to_detect(0.0), None);
        assert_eq!(runs_to_detect(-0.1), None);
        assert_eq!(runs_to_detect(f64::NAN), None);
        assert_eq!(runs_to_detect(1.0), Some(1));
        assert_eq!(runs_to_detect(0.95), Some(1));
        assert!((detectable_rate(10) - 0.25887).abs() < 1e-5);
        assert_eq!(detectable_rate(0), 1.0);
        for p in [0.1, 0.05, 0.01] {
            let n = runs_to_detect(p).unwrap() as usize;
            assert!(detectable_rate(n) <= p && detectable_rate(n - 1) > p, "{p}");
        }
        // It is the smallest such n.
        for p in [0.3, 0.1, 0.05, 0.01, 0.001] {
            let n = runs_to_detect(p).unwrap() as f64;
            assert!(
                (1.0 - p).powf(n) <= 0.05 && (1.0 - p).powf(n - 1.0) > 0.05,
                "{p}"
            );
        }
    }
}
