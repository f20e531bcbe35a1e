//! The AWS SDK's configuration, as every client here is built from it: the standard
//! chain for region, credentials and endpoints (`AWS_REGION`, `AWS_ACCESS_KEY_ID`...,
//! `AWS_ENDPOINT_URL_*`, profiles, web identity, ECS, IMDS), over the HTTP client of
//! [`https`], whose trusted roots are compiled in.
//!
//! Why not the SDK's default HTTP client: it trusts the platform's root certificates,
//! which it reads from `/etc/ssl/certs` (and whatever else `openssl-probe` finds) and
//! parses when the first client is built, even one that never makes a request (the
//! credential chain builds an STS client). That was 80% of a function's cold start
//! (see `docs/benchmarks.md`, "Cold start").
//!
//! Under Lambda one configuration serves the whole process (see [`config`]), and the
//! credentials and region come from the environment without building the rest of the
//! chain (see `load`).

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

pub mod https;

/// The configuration for an AWS client. Under a Lambda runtime, the one of the process,
/// loaded at the first call: a Lambda process runs one Tokio runtime for its whole life,
/// so every client can share the credentials cache and the connection pool (the
/// gateway's DynamoDB, Secrets Manager, WebSocket API and request signing). Elsewhere
/// it is loaded afresh for each call, as the SDK does: tests run a Tokio runtime per
/// test, and a connection pooled by one runtime must not be handed to the next.
pub async fn config() -> SdkConfig {
    static SHARED: OnceCell<SdkConfig> = OnceCell::const_new();
    if crate::serve::running_in_lambda() {
        return SHARED.get_or_init(load).await.clone();
    }
    load().await
}

async fn load() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(client) = https::client() {
        loader = loader.http_client(client);
    }
    let answers = EnvAnswers::of(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    // The standard chains ask the environment first and stop at the first answer; the
    // links after it are built all the same, to sit unused: for credentials an STS
    // client (web identity) and an IMDS client, a fifth of a function's start. When
    // the environment answers (on Lambda it always does), start from its answer.
    if answers.credentials {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    if answers.region {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    let config = loader.load().await;
    crate::startup::mark("aws-config");
    config
}

/// Which of the standard chains the environment answers: it has credentials when it
/// has an access key id and a secret key (the names the first link of the chain reads
/// first), and a region when it has `AWS_REGION` or `AWS_DEFAULT_REGION`.
#[derive(Debug, PartialEq, Eq)]
struct EnvAnswers {
    credentials: bool,
    region: bool,
}

impl EnvAnswers {
    fn of(is_set: impl Fn(&str) -> bool) -> Self {
        Self {
            credentials: is_set("AWS_ACCESS_KEY_ID") && is_set("AWS_SECRET_ACCESS_KEY"),
            region: is_set("AWS_REGION") || is_set("AWS_DEFAULT_REGION"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_answers_only_with_a_key_pair_and_a_region() {
        let lambda = [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
        ];
        assert_eq!(
            EnvAnswers::of(|name| lambda.contains(&name)),
            EnvAnswers {
                credentials: true,
                region: true
            }
        );
        let profile_only = ["AWS_PROFILE", "AWS_DEFAULT_REGION"];
        assert_eq!(
            EnvAnswers::of(|name| profile_only.contains(&name)),
            EnvAnswers {
                credentials: false,
                region: true
            }
        );
        let key_without_secret = ["AWS_ACCESS_KEY_ID"];
        assert_eq!(
            EnvAnswers::of(|name| key_without_secret.contains(&name)),
            EnvAnswers {
                credentials: false,
                region: false
            }
        );
    }
}
