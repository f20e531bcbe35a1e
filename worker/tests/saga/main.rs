//! The order saga end to end: a real Temporal dev server, real services on DynamoDB
//! Local, and the worker (in this process, or as its own process where it must die).

mod attention;
mod checkout;
mod failures;
mod interface;
mod metrics;
mod paths;
mod replay;
mod resets;
mod reviews;
mod startup;
mod support;
mod versioning;
