//! Retry policies and timeouts of the saga's calls. Every attempt is bounded by a 10 s
//! start-to-close timeout: the services answer in milliseconds, `card_slow` takes 3 s,
//! and a worker that dies mid-call has its call retried after at most 10 s.
//!
//! | policy | initial | coefficient | maximum | attempts | why |
//! |---|---|---|---|---|---|
//! | create order | 0.5 s | 2 | 10 s | 10 | a cheap idempotent write; about a minute of an unavailable order service is worth riding out before giving up |
//! | reserve inventory | 0.5 s | 2 | 10 s | 20 | stock is the step most often contended and the one the breaker guards; 20 attempts ride out a few minutes of outage |
//! | charge payment | 1 s | 2 | 20 s | 8 | a payment provider's transient errors clear in seconds to a minute; beyond ~2 minutes, cancel rather than leave stock held |
//! | confirm order | 1 s | 2 | 60 s | unlimited | the money is taken: recover forward, never compensate a paid order because a service is slow |
//! | notify customer / failure | 1 s | 2 | 60 s | unlimited | the final word to the customer must arrive |
//! | step events | 0.5 s | 2 | 5 s | 4 | live progress is best effort; the timeline query has the truth |
//! | compensations | 1 s | 2 | 10 s | 5 per round | must succeed: after the first failed round (~15 s) the saga alerts admins once; every failed round, refused or not, is followed by a 10 s pause and another round, forever |
//!
//! A step that runs locally (see `workflow/steps.rs`) first tries inside the workflow
//! task: at most [`LOCAL_ATTEMPTS`] attempts of at most [`LOCAL_ATTEMPT_TIMEOUT`] each,
//! with the same backoff, and none while the service's breaker is open; if that has not
//! succeeded, the policy above applies in full to the same call as a regular activity.
//! The local phase is what makes the common case one workflow task; the regular
//! activity is what rides out a long outage without holding a workflow task open.
//!
//! Business refusals (out of stock, card declined, invalid order) are never retried:
//! the activities mark them non-retryable. Any other failure is retried, a 401, 403 or
//! bare 404 included (see `saga_contract::Refusal`).

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_sdk::{ActivityOptions, LocalActivityOptions};

/// The longest one attempt of an activity may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a local step tries inside its workflow task before it becomes a regular
/// activity, and how long each attempt may take: the services answer in milliseconds,
/// and the whole phase (2 × 3 s plus at most 1 s of backoff) stays short of the 8 s
/// after which a workflow task held open by local activities must be heartbeated (each
/// heartbeat is an action and three events).
pub const LOCAL_ATTEMPTS: u32 = 2;
pub const LOCAL_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// The failure type of a call refused by an open breaker: no local retry waits out the
/// cool-down inside a workflow task; the regular activity does, on a timer.
pub const CIRCUIT_OPEN: &str = "circuit-open";

/// How a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    initial: Duration,
    maximum: Duration,
    /// 0: unlimited.
    attempts: u32,
}

const UNLIMITED: u32 = 0;

impl Policy {
    const fn new(initial: Duration, maximum: Duration, attempts: u32) -> Self {
        Self {
            initial,
            maximum,
            attempts,
        }
    }

    fn retry_policy(self) -> RetryPolicy {
        self.retry(self.attempts, &[])
    }

    fn retry(self, attempts: u32, non_retryable: &[&str]) -> RetryPolicy {
        RetryPolicy::builder()
            .initial_interval(self.initial)
            .backoff_coefficient(2.0)
            .maximum_interval(self.maximum)
            .maximum_attempts(attempts)
            .non_retryable_error_types(non_retryable.iter().copied())
            .build()
    }

    /// The options of the call as a regular activity.
    pub fn activity(self) -> ActivityOptions {
        ActivityOptions::with_start_to_close_timeout(ATTEMPT_TIMEOUT)
            .retry_policy(self.retry_policy())
            .build()
    }

    /// The options of its local phase (see the module documentation).
    pub fn local(self) -> LocalActivityOptions {
        let attempts = match self.attempts {
            UNLIMITED => LOCAL_ATTEMPTS,
            attempts => attempts.min(LOCAL_ATTEMPTS),
        };
        LocalActivityOptions::builder()
            .retry_policy(self.retry(attempts, &[CIRCUIT_OPEN]))
            .start_to_close_timeout(LOCAL_ATTEMPT_TIMEOUT)
            .build()
    }
}

pub const CREATE_ORDER: Policy =
    Policy::new(Duration::from_millis(500), Duration::from_secs(10), 10);

pub const RESERVE_INVENTORY: Policy =
    Policy::new(Duration::from_millis(500), Duration::from_secs(10), 20);

pub const CHARGE_PAYMENT: Policy = Policy::new(Duration::from_secs(1), Duration::from_secs(20), 8);

pub const CONFIRM_ORDER: Policy =
    Policy::new(Duration::from_secs(1), Duration::from_secs(60), UNLIMITED);

pub const FINAL_NOTIFICATION: Policy =
    Policy::new(Duration::from_secs(1), Duration::from_secs(60), UNLIMITED);

pub const STEP_EVENT: Policy = Policy::new(Duration::from_millis(500), Duration::from_secs(5), 4);

/// One round of a compensation; see the module documentation.
pub const COMPENSATION_ROUND: Policy =
    Policy::new(Duration::from_secs(1), Duration::from_secs(10), 5);

/// The pause between two rounds of a compensation: even a round that fails at once
/// leaves the workflow waiting on a timer before the next.
pub const COMPENSATION_ROUND_PAUSE: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_phase_keeps_the_backoff_and_ends_before_a_task_needs_a_heartbeat() {
        for policy in [
            CREATE_ORDER,
            RESERVE_INVENTORY,
            CONFIRM_ORDER,
            COMPENSATION_ROUND,
        ] {
            let local = policy.local();
            assert_eq!(local.retry_policy.maximum_attempts(), LOCAL_ATTEMPTS);
            assert_eq!(local.retry_policy.initial_interval(), policy.initial);
            assert_eq!(
                local.retry_policy.non_retryable_error_types(),
                [CIRCUIT_OPEN]
            );
            // Every attempt at its longest, and the backoff between them.
            let longest = LOCAL_ATTEMPT_TIMEOUT * LOCAL_ATTEMPTS + policy.initial;
            assert!(longest < Duration::from_secs(8), "{policy:?}: {longest:?}");
        }
        assert_eq!(STEP_EVENT.local().retry_policy.maximum_attempts(), 2);
        let remote = RESERVE_INVENTORY.activity();
        assert_eq!(remote.retry_policy, Some(RESERVE_INVENTORY.retry_policy()));
    }
}
