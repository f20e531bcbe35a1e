//! Retry policies and timeouts of each saga step. Every activity call is bounded by a
//! 10 s start-to-close timeout: the services answer in milliseconds, `card_slow` takes
//! 3 s, and a worker that dies mid-call has its call retried after at most 10 s.
//!
//! | step | initial | coefficient | maximum | attempts | why |
//! |---|---|---|---|---|---|
//! | create order | 0.5 s | 2 | 10 s | 10 | a cheap idempotent write; about a minute of an unavailable order service is worth riding out before giving up |
//! | reserve inventory | 0.5 s | 2 | 10 s | 20 | stock is the step most often contended and the one the breaker guards; 20 attempts ride out a few minutes of outage |
//! | charge payment | 1 s | 2 | 20 s | 8 | a payment provider's transient errors clear in seconds to a minute; beyond ~2 minutes, cancel rather than leave stock held |
//! | confirm order | 1 s | 2 | 60 s | unlimited | the money is taken: recover forward, never compensate a paid order because a service is slow |
//! | notify customer / failure | 1 s | 2 | 60 s | unlimited | the final word to the customer must arrive |
//! | step events | 0.5 s | 2 | 5 s | 4 | live progress is best effort; the timeline query has the truth |
//! | compensations | 1 s | 2 | 10 s | 5 per round | must succeed: after the first failed round (~15 s) the saga alerts admins once; every failed round, refused or not, is followed by a 10 s pause and another round, forever |
//!
//! Business refusals (out of stock, card declined, invalid order) are never retried:
//! the activities mark them non-retryable. Any other failure is retried, a 401, 403 or
//! bare 404 included (see `services::BUSINESS_REFUSALS`).

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_sdk::ActivityOptions;

/// The longest one attempt of an activity may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

fn options(initial: Duration, maximum: Duration, attempts: u32) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(ATTEMPT_TIMEOUT)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(initial)
                .backoff_coefficient(2.0)
                .maximum_interval(maximum)
                .maximum_attempts(attempts)
                .build(),
        )
        .build()
}

const UNLIMITED: u32 = 0;

pub fn create_order() -> ActivityOptions {
    options(Duration::from_millis(500), Duration::from_secs(10), 10)
}

pub fn reserve_inventory() -> ActivityOptions {
    options(Duration::from_millis(500), Duration::from_secs(10), 20)
}

pub fn charge_payment() -> ActivityOptions {
    options(Duration::from_secs(1), Duration::from_secs(20), 8)
}

pub fn confirm_order() -> ActivityOptions {
    options(Duration::from_secs(1), Duration::from_secs(60), UNLIMITED)
}

pub fn final_notification() -> ActivityOptions {
    options(Duration::from_secs(1), Duration::from_secs(60), UNLIMITED)
}

pub fn step_event() -> ActivityOptions {
    options(Duration::from_millis(500), Duration::from_secs(5), 4)
}

/// The pause between two rounds of a compensation: even a round that fails at once
/// leaves the workflow waiting on a timer before the next.
pub const COMPENSATION_ROUND_PAUSE: Duration = Duration::from_secs(10);

/// One round of a compensation; see the module documentation.
pub fn compensation_round() -> ActivityOptions {
    options(Duration::from_secs(1), Duration::from_secs(10), 5)
}
