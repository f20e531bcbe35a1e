//! The generic cell rate algorithm, pure: what a limit allows given the stored
//! theoretical arrival time (TAT) and the time now.

/// The GCRA for one limit: a permit every `emission`, bursts up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    emission_ms: u64,
    burst: u64,
}

/// What the limit allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// `permits` granted (at least 1); `new_tat` to store; `remaining` more would fit now.
    Granted {
        permits: u32,
        new_tat: u64,
        remaining: u32,
    },
    /// Nothing fits; one permit will after `retry_after_ms`.
    Refused { retry_after_ms: u64 },
}

impl Gcra {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            emission_ms: (60_000 / u64::from(per_minute.max(1))).max(1),
            burst: u64::from(burst.max(1)),
        }
    }

    /// Grants up to `wanted` permits at `now_ms` given the stored TAT.
    pub fn grant(&self, tat: Option<u64>, now_ms: u64, wanted: u32) -> Grant {
        let tat = tat.unwrap_or(now_ms).max(now_ms);
        // Up to `burst` emission intervals of credit may be outstanding.
        let horizon = now_ms + self.burst * self.emission_ms;
        let fits = horizon.saturating_sub(tat) / self.emission_ms;
        let permits = fits.min(u64::from(wanted));
        if permits == 0 {
            return Grant::Refused {
                retry_after_ms: (tat + self.emission_ms).saturating_sub(horizon).max(1),
            };
        }
        Grant::Granted {
            permits: permits as u32,
            new_tat: tat + permits * self.emission_ms,
            remaining: (fits - permits) as u32,
        }
    }

    /// Milliseconds until the full burst is available again after `tat`.
    pub fn reset_ms(&self, tat: u64, now_ms: u64) -> u64 {
        tat.saturating_sub(now_ms)
    }
}
