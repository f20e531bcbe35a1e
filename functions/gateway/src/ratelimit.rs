//! Rate limiting per principal (the user, else the client's address: IPv4, or IPv6
//! /64) with the generic cell rate algorithm (GCRA), shared by every gateway instance
//! through DynamoDB.
//!
//! The shared state per principal is one number, its theoretical arrival time (TAT),
//! moved forward by a conditional update that expects the value it read. To keep that
//! round trip off most requests, an instance takes a small lease of permits at once
//! (`RATE_LIMIT_LEASE`) and spends them locally for up to a second; leased permits are
//! already charged to the shared TAT, so all instances together never exceed the limit.
//! Within an instance, one request per principal renews the lease while the others
//! wait for it, and the lease it asks for grows with the number waiting: a busy
//! principal costs one round trip per batch, not one race per request.
//!
//! When the shared state cannot be used (the hot item throttled, access denied, the
//! table missing, conditional updates that keep losing), the limit does not disappear:
//! each instance enforces the same policy on its own, starting from the last shared
//! state it saw, until the table answers again. This is logged and counted (metric
//! `RateLimitStoreFallback`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use service_kit::Problem;
use service_kit::dynamo::{self, Backoff, StoreError, n};

use crate::auth::AuthUser;
use crate::client_ip::{TrustedProxies, address_block};
use crate::config::RateLimitConfig;

mod gcra;

pub use gcra::{Gcra, Grant};

/// How long an instance may hold leased permits before handing them back unused.
const LEASE_LIFETIME: Duration = Duration::from_secs(1);
/// Instances forget leases of this many principals at most.
const MAX_LEASES: usize = 10_000;
/// While the store fails, one log line (and metric) this often, not one per request.
const FALLBACK_REPORT_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Lease {
    permits: u32,
    remaining_shared: u32,
    tat: u64,
    until: Instant,
}

/// What the limiter decided for one request, with what to say in headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed { remaining: u32, reset_ms: u64 },
    Limited { retry_after_ms: u64 },
}

pub struct RateLimiter {
    client: Client,
    table: String,
    /// Whose client-address headers to believe.
    trusted: TrustedProxies,
    gcra: Gcra,
    config: RateLimitConfig,
    leases: Mutex<HashMap<String, Lease>>,
    /// Per principal: the lock of lease renewal and how many requests wait on it.
    renewals: Mutex<HashMap<String, Arc<Renewal>>>,
    /// Per principal, the TAT of this instance's own limit, used while the store fails;
    /// seeded with the last shared TAT this instance saw.
    local: Mutex<HashMap<String, u64>>,
    fallback: Mutex<FallbackReport>,
}

/// What the store failures since the last report were.
#[derive(Default)]
struct FallbackReport {
    last_reported: Option<Instant>,
    unreported: u64,
}

#[derive(Default)]
struct Renewal {
    lock: tokio::sync::Mutex<()>,
    waiting: std::sync::atomic::AtomicU32,
}

fn now_ms() -> u64 {
    service_kit::clock::now_millis()
}

impl RateLimiter {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        config: RateLimitConfig,
        trusted: TrustedProxies,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            trusted,
            gcra: Gcra::new(config.per_minute, config.burst),
            config,
            leases: Mutex::new(HashMap::new()),
            renewals: Mutex::new(HashMap::new()),
            local: Mutex::new(HashMap::new()),
            fallback: Mutex::new(FallbackReport::default()),
        }
    }

    /// The decision for one request of `principal`: from the shared limit, or, when its
    /// store fails, from this instance's own.
    #[tracing::instrument(name = "rate limit", skip_all)]
    pub async fn decide(&self, principal: &str) -> Admission {
        match self.check(principal).await {
            Ok(decision) => decision,
            Err(error) => {
                self.report_fallback(&error);
                self.check_locally(principal)
            }
        }
    }

    /// The same policy, on this instance alone.
    fn check_locally(&self, principal: &str) -> Admission {
        let now = now_ms();
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if local.len() >= MAX_LEASES {
            local.retain(|_, tat| *tat > now);
        }
        let tat = local.get(principal).copied();
        match self.gcra.grant(tat, now, 1) {
            Grant::Granted {
                new_tat, remaining, ..
            } => {
                local.insert(principal.to_owned(), new_tat);
                Admission::Allowed {
                    remaining,
                    reset_ms: self.gcra.reset_ms(new_tat, now),
                }
            }
            Grant::Refused { retry_after_ms } => Admission::Limited { retry_after_ms },
        }
    }

    /// Remembers the shared TAT seen for `principal`, so that a fallback to the local
    /// limit continues from it instead of granting a fresh burst.
    fn seen_shared(&self, principal: &str, tat: u64) {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let entry = local.entry(principal.to_owned()).or_insert(tat);
        *entry = (*entry).max(tat);
    }

    fn report_fallback(&self, error: &StoreError) {
        let mut report = self.fallback.lock().unwrap_or_else(|e| e.into_inner());
        report.unreported += 1;
        let due = report
            .last_reported
            .is_none_or(|at| at.elapsed() >= FALLBACK_REPORT_INTERVAL);
        if due {
            tracing::error!(
                %error,
                requests = report.unreported,
                "rate limit store unavailable; each instance enforces the limit on its own"
            );
            service_kit::metrics::count("RateLimitStoreFallback", report.unreported);
            report.unreported = 0;
            report.last_reported = Some(Instant::now());
        }
    }

    pub async fn check(&self, principal: &str) -> Result<Admission, StoreError> {
        if let Some(decision) = self.spend_lease(principal) {
            return Ok(decision);
        }
        let renewal = self.renewal(principal);
        renewal
            .waiting
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _turn = renewal.lock.lock().await;
        let waiting = renewal
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        // The request before us may have renewed the lease for us all.
        if let Some(decision) = self.spend_lease(principal) {
            return Ok(decision);
        }
        self.renew(principal, self.config.lease.max(1).max(waiting))
            .await
    }

    fn renewal(&self, principal: &str) -> Arc<Renewal> {
        let mut renewals = self.renewals.lock().unwrap_or_else(|e| e.into_inner());
        if renewals.len() >= MAX_LEASES {
            renewals.retain(|_, r| Arc::strong_count(r) > 1);
        }
        renewals.entry(principal.to_owned()).or_default().clone()
    }

    /// Takes up to `wanted` permits from the shared limit: one for this request, the
    /// rest leased to the requests that follow.
    async fn renew(&self, principal: &str, wanted: u32) -> Result<Admission, StoreError> {
        let mut backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(50));
        for _ in 0..8 {
            let now = now_ms();
            let stored = self.load(principal).await?;
            if let Some(tat) = stored {
                self.seen_shared(principal, tat);
            }
            match self.gcra.grant(stored, now, wanted) {
                Grant::Refused { retry_after_ms } => {
                    return Ok(Admission::Limited { retry_after_ms });
                }
                Grant::Granted {
                    permits,
                    new_tat,
                    remaining,
                } => {
                    if !self.store(principal, stored, new_tat).await? {
                        backoff.wait().await;
                        continue;
                    }
                    self.seen_shared(principal, new_tat);
                    let lease = Lease {
                        permits: permits - 1,
                        remaining_shared: remaining,
                        tat: new_tat,
                        until: Instant::now() + LEASE_LIFETIME,
                    };
                    self.keep_lease(principal, lease);
                    return Ok(Admission::Allowed {
                        remaining: lease.permits + remaining,
                        reset_ms: self.gcra.reset_ms(new_tat, now),
                    });
                }
            }
        }
        Err(StoreError::Unavailable(format!(
            "rate limit of {principal} kept changing under us"
        )))
    }

    fn spend_lease(&self, principal: &str) -> Option<Admission> {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        let lease = leases.get_mut(principal)?;
        if lease.permits == 0 || lease.until <= Instant::now() {
            leases.remove(principal);
            return None;
        }
        lease.permits -= 1;
        Some(Admission::Allowed {
            remaining: lease.permits + lease.remaining_shared,
            reset_ms: self.gcra.reset_ms(lease.tat, now_ms()),
        })
    }

    fn keep_lease(&self, principal: &str, lease: Lease) {
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        if leases.len() >= MAX_LEASES {
            let now = Instant::now();
            leases.retain(|_, l| l.until > now);
        }
        if lease.permits > 0 {
            leases.insert(principal.to_owned(), lease);
        }
    }

    async fn load(&self, principal: &str) -> Result<Option<u64>, StoreError> {
        let output = dynamo::get_item_consistent(
            &self.client,
            &self.table,
            dynamo::key(format!("RATE#{principal}"), "RATE"),
        )
        .await?;
        Ok(output.and_then(|item| item.get("tat")?.as_n().ok()?.parse().ok()))
    }

    /// Moves the TAT from what was read to `new_tat`; false if another instance moved
    /// it first.
    async fn store(
        &self,
        principal: &str,
        read: Option<u64>,
        new_tat: u64,
    ) -> Result<bool, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(format!("RATE#{principal}"), "RATE")))
            .update_expression("SET tat = :new, expires_at = :expires")
            .expression_attribute_values(":new", n(new_tat))
            // The item is useless once the TAT is in the past: let DynamoDB's TTL drop it.
            .expression_attribute_values(":expires", n(new_tat / 1000 + 60));
        let request = match read {
            Some(old) => request
                .condition_expression("tat = :old")
                .expression_attribute_values(":old", n(old)),
            None => request.condition_expression("attribute_not_exists(tat)"),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error) if dynamo::failed_condition(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    fn policy_header(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "\"per-principal\";q={};w=60;burst={}",
            self.config.per_minute, self.config.burst
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("\"per-principal\""))
    }
}

/// The principal a request is limited as: its user, else its client's address block.
fn principal(request: &Request, trusted: &TrustedProxies) -> String {
    if let Some(user) = request.extensions().get::<AuthUser>() {
        return format!("user:{}", user.id);
    }
    address_principal(request, trusted)
}

fn address_principal(request: &Request, trusted: &TrustedProxies) -> String {
    match trusted.client_ip(request) {
        Some(ip) => format!("ip:{}", address_block(ip)),
        None => "ip:unknown".to_owned(),
    }
}

pub async fn limit(
    State(limiter): State<Arc<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let principal = principal(&request, &limiter.trusted);
    let decision = limiter.decide(&principal).await;
    let mut response = match decision {
        Admission::Allowed { .. } => next.run(request).await,
        Admission::Limited { retry_after_ms } => too_many(retry_after_ms),
    };
    add_headers(response.headers_mut(), &limiter, decision);
    response
}

impl RateLimiter {
    /// The principal of a request without a user: its client's address block.
    pub fn address_of(&self, request: &Request) -> String {
        address_principal(request, &self.trusted)
    }

    /// Counts a request that is answered before it reaches [`limit`] (a bad token, a
    /// WebSocket `$connect`) against its client's address (see [`Self::address_of`]):
    /// a flood of them meets the limit like any other requests. `Some` is the 429 to
    /// answer instead.
    pub async fn limit_address(&self, address: &str) -> Option<Response> {
        let decision = self.decide(address).await;
        match decision {
            Admission::Allowed { .. } => None,
            Admission::Limited { retry_after_ms } => {
                let mut response = too_many(retry_after_ms);
                add_headers(response.headers_mut(), self, decision);
                Some(response)
            }
        }
    }
}

fn too_many(retry_after_ms: u64) -> Response {
    rate_limited(retry_after_ms).into_response()
}

/// The 429 of a principal over its limit, to retry after `retry_after_ms`.
pub fn rate_limited(retry_after_ms: u64) -> Problem {
    let seconds = retry_after_ms.div_ceil(1000).max(1);
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
    )
    .with_detail(format!("Slow down: retry in {seconds} s."))
    .with_retry_after(seconds)
}

fn add_headers(headers: &mut HeaderMap, limiter: &RateLimiter, decision: Admission) {
    headers.insert("ratelimit-policy", limiter.policy_header());
    let (remaining, reset_secs) = match decision {
        Admission::Allowed {
            remaining,
            reset_ms,
        } => (remaining, reset_ms.div_ceil(1000)),
        Admission::Limited { retry_after_ms } => (0, retry_after_ms.div_ceil(1000)),
    };
    if let Ok(value) =
        HeaderValue::from_str(&format!("\"per-principal\";r={remaining};t={reset_secs}"))
    {
        headers.insert("ratelimit", value);
    }
}

#[cfg(test)]
mod tests;
