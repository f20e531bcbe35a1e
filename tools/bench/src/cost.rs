//! The cost of a million orders on AWS with Temporal Cloud, from what one saga was
//! measured to use and the public list prices (us-east-1, USD). The prices and their
//! sources are in `docs/cost.md`; they were read on 2026-12-04 and change: check them.

/// What one saga used, as the benchmark measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SagaUsage {
    /// Temporal Cloud actions, counted from the history.
    pub actions: f64,
    /// The encoded size of the saga's history, retained after it closes.
    pub history_bytes: f64,
    pub read_units: f64,
    pub write_units: f64,
    /// Service calls: Lambda invocations on AWS.
    pub invocations: f64,
    /// Their mean duration.
    pub invocation_ms: f64,
    /// The worker's CPU time.
    pub worker_cpu_seconds: f64,
    /// Log lines the services and the worker wrote, at the deployed level and format.
    pub log_bytes: f64,
}

/// List prices and the deployment's sizes (`template.yaml`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub lambda_per_million_requests: f64,
    pub lambda_arm_per_gb_second: f64,
    pub lambda_memory_gb: f64,
    pub dynamodb_per_million_write_units: f64,
    pub dynamodb_per_million_read_units: f64,
    pub fargate_arm_per_vcpu_hour: f64,
    pub fargate_arm_per_gb_hour: f64,
    pub worker_vcpu: f64,
    pub worker_memory_gb: f64,
    /// How busy the worker's CPU is kept on average: the rest is headroom paid for.
    pub worker_utilisation: f64,
    pub temporal_per_million_actions: f64,
    pub temporal_retained_per_gb_hour: f64,
    pub retention_days: f64,
    pub logs_per_gb_ingested: f64,
    /// The START, END and REPORT lines Lambda writes for every invocation.
    pub lambda_platform_log_bytes: f64,
}

impl Prices {
    /// us-east-1 list prices (sources in `docs/cost.md`) and the template's sizes:
    /// functions of 256 MB on arm64, a worker task of 0.25 vCPU and 0.5 GB on ARM kept
    /// 60 % busy, a 30-day retention.
    pub const US_EAST_1: Prices = Prices {
        lambda_per_million_requests: 0.20,
        lambda_arm_per_gb_second: 0.000_013_333_4,
        lambda_memory_gb: 0.25,
        dynamodb_per_million_write_units: 0.625,
        dynamodb_per_million_read_units: 0.125,
        fargate_arm_per_vcpu_hour: 0.032_38,
        fargate_arm_per_gb_hour: 0.003_56,
        worker_vcpu: 0.25,
        worker_memory_gb: 0.5,
        worker_utilisation: 0.6,
        temporal_per_million_actions: 50.0,
        temporal_retained_per_gb_hour: 0.001_05,
        retention_days: 30.0,
        logs_per_gb_ingested: 0.50,
        lambda_platform_log_bytes: 300.0,
    };
}

/// The cost of one million orders, by what is paid for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MillionOrders {
    pub lambda_requests: f64,
    pub lambda_duration: f64,
    pub dynamodb: f64,
    pub fargate: f64,
    pub temporal_actions: f64,
    pub temporal_storage: f64,
    pub logs: f64,
}

impl MillionOrders {
    pub fn total(&self) -> f64 {
        self.lambda_requests
            + self.lambda_duration
            + self.dynamodb
            + self.fargate
            + self.temporal_actions
            + self.temporal_storage
            + self.logs
    }

    /// Each part with its name, in the order `docs/cost.md` lists them.
    pub fn parts(&self) -> [(&'static str, f64); 7] {
        [
            ("Lambda requests", self.lambda_requests),
            ("Lambda duration (arm64)", self.lambda_duration),
            ("DynamoDB on-demand", self.dynamodb),
            ("Fargate (worker)", self.fargate),
            ("Temporal Cloud actions", self.temporal_actions),
            ("Temporal Cloud storage", self.temporal_storage),
            ("CloudWatch Logs", self.logs),
        ]
    }
}

const MILLION: f64 = 1_000_000.0;
const GB: f64 = 1_000_000_000.0;

pub fn million_orders(usage: &SagaUsage, prices: &Prices) -> MillionOrders {
    let worker_hour = prices.worker_vcpu * prices.fargate_arm_per_vcpu_hour
        + prices.worker_memory_gb * prices.fargate_arm_per_gb_hour;
    // CPU-seconds a worker task offers per hour at the chosen utilisation.
    let worker_cpu_per_hour = prices.worker_vcpu * prices.worker_utilisation * 3600.0;
    let log_bytes = usage.log_bytes + usage.invocations * prices.lambda_platform_log_bytes;
    MillionOrders {
        lambda_requests: usage.invocations * prices.lambda_per_million_requests,
        lambda_duration: usage.invocations * MILLION * usage.invocation_ms / 1000.0
            * prices.lambda_memory_gb
            * prices.lambda_arm_per_gb_second,
        dynamodb: usage.write_units * prices.dynamodb_per_million_write_units
            + usage.read_units * prices.dynamodb_per_million_read_units,
        fargate: usage.worker_cpu_seconds * MILLION / worker_cpu_per_hour * worker_hour,
        temporal_actions: usage.actions * prices.temporal_per_million_actions,
        temporal_storage: usage.history_bytes * MILLION / GB
            * prices.retention_days
            * 24.0
            * prices.temporal_retained_per_gb_hour,
        logs: log_bytes * MILLION / GB * prices.logs_per_gb_ingested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn each_part_is_usage_times_price() {
        let usage = SagaUsage {
            actions: 5.0,
            history_bytes: 10_000.0,
            read_units: 4.0,
            write_units: 20.0,
            invocations: 8.0,
            invocation_ms: 10.0,
            worker_cpu_seconds: 0.009,
            log_bytes: 2_000.0,
        };
        let cost = million_orders(&usage, &Prices::US_EAST_1);
        assert!(close(cost.temporal_actions, 250.0), "5 M actions at $50/M");
        assert!(close(cost.lambda_requests, 1.6), "8 M requests at $0.20/M");
        // 8 M × 10 ms × 0.25 GB = 20 000 GB-s.
        assert!(close(cost.lambda_duration, 20_000.0 * 0.000_013_333_4));
        assert!(close(cost.dynamodb, 20.0 * 0.625 + 4.0 * 0.125));
        // 9 000 CPU-s; a task offers 540 CPU-s an hour at 60 % of 0.25 vCPU.
        let hours = 9_000.0 / 540.0;
        assert!(close(
            cost.fargate,
            hours * (0.25 * 0.032_38 + 0.5 * 0.003_56)
        ));
        // 10 GB kept 30 days.
        assert!(close(cost.temporal_storage, 10.0 * 720.0 * 0.001_05));
        // 2 000 B + 8 × 300 B of platform lines, a million times: 4.4 GB.
        assert!(close(cost.logs, 4.4 * 0.5));
        let sum: f64 = cost.parts().iter().map(|(_, c)| c).sum();
        assert!(close(cost.total(), sum));
    }
}
