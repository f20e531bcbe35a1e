//! Plumbing shared by every function in this repository, written once:
//! configuration, logging, the AWS SDK's configuration and HTTP client, the DynamoDB
//! client and table definitions, problem+json errors and extractors, failure injection,
//! pagination, and the entry point that runs a `Router` under Lambda or as a plain HTTP
//! server.

pub mod aws;
pub mod clock;
pub mod config;
pub mod downstream;
pub mod dynamo;
pub mod extract;
pub mod failure;
pub mod json;
pub mod metrics;
pub mod outcome;
pub mod pagination;
#[cfg(feature = "payload-codec")]
pub mod payload_codec;
pub mod problem;
pub mod secrets;
pub mod serve;
pub mod services;
pub mod sigv4;
pub mod startup;
pub mod tables;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod validate;

pub use problem::Problem;
