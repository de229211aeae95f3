//! Waiting between attempts: the check-in interval with ±20% jitter, and exponential
//! back-off with jitter (up to five minutes) while the server cannot be reached, so that
//! many agents never hammer a server that is coming back.

use std::time::Duration;

use rand::Rng;

/// The longest wait between two attempts while the server keeps failing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The first wait after a failure.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// `base` moved randomly by up to ±`fraction` of itself.
pub fn jittered(base: Duration, fraction: f64) -> Duration {
    let fraction = fraction.clamp(0.0, 1.0);
    let factor = 1.0 + rand::thread_rng().gen_range(-fraction..=fraction);
    base.mul_f64(factor.max(0.0))
}

/// The wait before the next check-in: the interval the server asked for, ±20%.
pub fn checkin_delay(interval_secs: u64) -> Duration {
    jittered(Duration::from_secs(interval_secs.max(1)), 0.2)
}

/// The wait a busy server advised (`Retry-After`), kept between one second and the
/// longest back-off, with a little jitter so that agents told the same number do not
/// come back in the same instant.
pub fn advised_delay(retry_after_secs: u64) -> Duration {
    let advised = Duration::from_secs(retry_after_secs.max(1)).min(MAX_BACKOFF);
    advised + Duration::from_secs(1).mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
}

/// Exponential back-off with jitter: 1 s, 2 s, 4 s … up to five minutes, each wait
/// drawn between half and all of its step.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { failures: 0, max: MAX_BACKOFF }
    }
}

impl Backoff {
    /// The ceiling of the wait at the current number of failures.
    fn step(&self) -> Duration {
        let doubled = FIRST_BACKOFF.saturating_mul(1u32.checked_shl(self.failures.min(20)).unwrap_or(u32::MAX));
        doubled.min(self.max)
    }

    /// Counts a failure and returns how long to wait before trying again.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step();
        self.failures = self.failures.saturating_add(1);
        step.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }

    /// The server answered: start again from the first step.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ins_are_spread_by_a_fifth_either_way() {
        for _ in 0..200 {
            let d = checkin_delay(30);
            assert!(d >= Duration::from_secs(24) && d <= Duration::from_secs(36), "{d:?}");
        }
    }

    #[test]
    fn an_advised_wait_is_kept_and_bounded() {
        for _ in 0..100 {
            let d = advised_delay(7);
            assert!(d >= Duration::from_secs(7) && d <= Duration::from_secs(8), "{d:?}");
            assert!(advised_delay(0) >= Duration::from_secs(1));
            assert!(advised_delay(100_000) <= MAX_BACKOFF + Duration::from_secs(1));
        }
    }

    #[test]
    fn back_off_doubles_up_to_five_minutes_and_resets() {
        let mut b = Backoff::default();
        let mut ceilings = Vec::new();
        for _ in 0..14 {
            let d = b.next_delay();
            assert!(d <= MAX_BACKOFF, "{d:?}");
            ceilings.push(d);
        }
        assert!(ceilings[0] <= Duration::from_secs(1));
        assert!(ceilings[5] >= Duration::from_secs(16) && ceilings[5] <= Duration::from_secs(32));
        assert!(ceilings[13] >= Duration::from_secs(150));
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
