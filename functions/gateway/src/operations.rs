//! The operations page's numbers and its load generator, the parts that decide without
//! I/O: sagas that ended sorted into minutes with their durations' percentiles, the
//! retries of running sagas per step, and a load batch checked and turned into orders.
//! The handlers are in `routes/operations.rs`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use saga_contract::{PaymentMethod, SagaOutcome, SagaStatus, StepName};
use service_kit::Problem;
use service_kit::validate::parse_id;
use sha2::{Digest, Sha256};

use crate::models::{LoadBatch, MinuteStats, StepRetries};
use crate::orders::saga::EndedSaga;

/// The longest window the page may ask for, in minutes.
pub const MAX_WINDOW_MINUTES: u32 = 60;
/// Orders in one batch at most: the load generator's rate per second.
pub const MAX_BATCH_ORDERS: u32 = 10;
/// Seconds in one run at most: with the rate, at most 600 orders per run.
pub const MAX_RUN_SECONDS: u32 = 60;
/// The synthetic customers of one run: enough that their open orders stay under the
/// order service's per-customer cap while a service is down.
pub const SYNTHETIC_CUSTOMERS: u32 = 60;
/// A card's weight in the mix at most.
pub const MAX_CARD_WEIGHT: u32 = 100;

/// The sagas of `ended` sorted into the `window` minutes up to `now` (the current,
/// partial minute last), each minute with its outcomes and its durations' p50 and p95.
/// Sagas that ended before the window are left out.
pub fn minutes(ended: &[EndedSaga], now: SystemTime, window: u32) -> Vec<MinuteStats> {
    let now_minute = minute_of(now);
    let first = now_minute.saturating_sub(u64::from(window.max(1)) - 1);
    let mut minutes: Vec<(MinuteStats, Vec<u64>)> = (first..=now_minute)
        .map(|minute| {
            let start = UNIX_EPOCH + Duration::from_secs(minute * 60);
            let stats = MinuteStats {
                start: service_kit::clock::format_system_time(start),
                ..MinuteStats::default()
            };
            (stats, Vec::new())
        })
        .collect();
    for saga in ended {
        let minute = minute_of(saga.ended);
        let Some(index) = minute.checked_sub(first).map(|i| i as usize) else {
            continue;
        };
        let Some((stats, durations)) = minutes.get_mut(index) else {
            continue;
        };
        let counter = match saga.outcome {
            Some(SagaOutcome::Completed) => &mut stats.completed,
            Some(SagaOutcome::PaymentDeclined) => &mut stats.payment_declined,
            Some(SagaOutcome::OutOfStock) => &mut stats.out_of_stock,
            Some(SagaOutcome::Refused) => &mut stats.refused,
            Some(SagaOutcome::StepFailed) => &mut stats.step_failed,
            Some(SagaOutcome::Decided) => &mut stats.decided,
            None => &mut stats.ended_otherwise,
        };
        *counter += 1;
        let took = saga.ended.duration_since(saga.started).unwrap_or_default();
        durations.push(took.as_millis() as u64);
    }
    minutes
        .into_iter()
        .map(|(mut stats, mut durations)| {
            durations.sort_unstable();
            stats.p50_ms = percentile(&durations, 50);
            stats.p95_ms = percentile(&durations, 95);
            stats
        })
        .collect()
}

fn minute_of(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / 60
}

/// The `p`th percentile of `sorted` by the nearest-rank method (a value that occurred,
/// never an interpolation); `None` for no values.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p.min(100)) * sorted.len() as u64).div_ceil(100);
    sorted.get(rank.saturating_sub(1) as usize).copied()
}

/// The attempts beyond the first of each step, summed over `statuses`, in the saga's
/// step order; steps without retries are left out.
pub fn retries(statuses: &[SagaStatus]) -> Vec<StepRetries> {
    let mut by_step: BTreeMap<usize, (StepName, u32)> = BTreeMap::new();
    for step in statuses.iter().flat_map(|status| &status.steps) {
        let retried = step.attempts.saturating_sub(1);
        if retried > 0 {
            let order = StepName::ALL
                .iter()
                .position(|name| *name == step.name)
                .unwrap_or(usize::MAX);
            by_step.entry(order).or_insert((step.name, 0)).1 += retried;
        }
    }
    by_step
        .into_values()
        .map(|(step, retries)| StepRetries { step, retries })
        .collect()
}

/// One order of a load batch: who places it, under which idempotency key, with which
/// card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOrder {
    pub customer_id: String,
    pub key: String,
    pub card: String,
}

/// A load batch, checked: every field within its bounds, every card a test card.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub sku: String,
    pub orders: Vec<LoadOrder>,
}

impl LoadPlan {
    pub fn parse(batch: LoadBatch) -> Result<Self, Problem> {
        let run_valid = (1..=32).contains(&batch.run.len())
            && batch
                .run
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if !run_valid {
            return Err(Problem::invalid(
                "`run` is 1 to 32 letters, digits, '-' or '_'.",
            ));
        }
        if batch.second >= MAX_RUN_SECONDS {
            return Err(Problem::invalid(format!(
                "`second` is 0 to {}: a run lasts at most {MAX_RUN_SECONDS} seconds.",
                MAX_RUN_SECONDS - 1
            )));
        }
        if !(1..=MAX_BATCH_ORDERS).contains(&batch.orders) {
            return Err(Problem::invalid(format!(
                "`orders` is 1 to {MAX_BATCH_ORDERS} per batch (one batch a second)."
            )));
        }
        let sku = parse_id(&batch.sku, "sku").map_err(Problem::invalid)?;
        let mut cards = Vec::new();
        for (card, weight) in &batch.cards {
            card.parse::<PaymentMethod>().map_err(Problem::invalid)?;
            if *weight > MAX_CARD_WEIGHT {
                return Err(Problem::invalid(format!(
                    "The weight of {card} must be at most {MAX_CARD_WEIGHT}."
                )));
            }
            if *weight > 0 {
                cards.push((card.clone(), *weight));
            }
        }
        if cards.is_empty() {
            return Err(Problem::invalid(
                "`cards` must give at least one test card a weight above 0.",
            ));
        }
        let orders = (0..batch.orders)
            .map(|index| {
                let number = batch.second * MAX_BATCH_ORDERS + index;
                LoadOrder {
                    customer_id: format!("load-{}-{}", batch.run, number % SYNTHETIC_CUSTOMERS),
                    key: format!("load-{}-{}-{index}", batch.run, batch.second),
                    card: pick(&cards, &batch.run, number).to_owned(),
                }
            })
            .collect();
        Ok(Self { sku, orders })
    }
}

/// The card of order `number` of `run`, drawn from the weighted mix by a hash of both:
/// the same order always gets the same card, so a batch sent again is the same
/// request under the same keys (and places nothing new).
fn pick<'a>(cards: &'a [(String, u32)], run: &str, number: u32) -> &'a str {
    let total: u64 = cards.iter().map(|(_, weight)| u64::from(*weight)).sum();
    let digest = Sha256::digest(format!("{run}\n{number}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    let mut point = u64::from_be_bytes(bytes) % total.max(1);
    for (card, weight) in cards {
        if point < u64::from(*weight) {
            return card;
        }
        point -= u64::from(*weight);
    }
    cards
        .last()
        .map_or("card_approve", |(card, _)| card.as_str())
}

#[cfg(test)]
mod tests;
