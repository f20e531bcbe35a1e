//! `coldstart-hello`: the baseline of `coldstart`, a hello-world Lambda function on
//! `lambda_runtime` that answers each event with itself. Built with the profile of the
//! functions it is compared with, it measures what starting any Rust function costs
//! here: the exec, the dynamic loader, the Tokio runtime and the Runtime API client.

use lambda_http::lambda_runtime::{self, Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Only with COLDSTART_STAGES=1: the same first mark as every function's.
    service_kit::startup::mark("main");
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move { Ok::<_, Error>(event.payload) },
    ))
    .await
}
