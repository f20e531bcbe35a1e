//! The gateway's two secrets stored in a Secrets Manager on loopback (moto's server), for
//! the start the gateway makes on AWS, where it fetches both before its first poll.

use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_secretsmanager::Client;

use super::{ACCESS_KEY_ID, GatewaySecrets, REGION, SECRET_ACCESS_KEY, SESSION_TOKEN};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client of the Secrets Manager at `endpoint`, as the functions see it: their region
/// and credentials.
async fn client(endpoint: &str) -> Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            Some(SESSION_TOKEN.to_owned()),
            None,
            "coldstart",
        ))
        .load()
        .await;
    Client::new(&config)
}

/// Stores both secrets under fresh names and returns where the gateway finds them.
pub async fn store(
    endpoint: &str,
    jwt_secret: &str,
    payload_keys: &str,
) -> Result<GatewaySecrets, BoxError> {
    let client = client(endpoint).await;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut arns = Vec::new();
    for (name, value) in [("jwt-secret", jwt_secret), ("payload-keys", payload_keys)] {
        let created = client
            .create_secret()
            .name(format!("coldstart-{name}-{run}"))
            .secret_string(value)
            .send()
            .await
            .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())?;
        arns.push(created.arn().ok_or("a secret without an ARN")?.to_owned());
    }
    let [jwt_secret_arn, payload_keys_arn]: [String; 2] =
        arns.try_into().map_err(|_| "two ARNs expected")?;
    Ok(GatewaySecrets::SecretsManager {
        endpoint: endpoint.to_owned(),
        jwt_secret_arn,
        payload_keys_arn,
    })
}

/// The median time the Secrets Manager at `endpoint` takes to answer `GetSecretValue`
/// for `arn` over a warm connection: the part of the gateway's start that is the
/// stub's, not the gateway's.
pub async fn answer_time(endpoint: &str, arn: &str, count: usize) -> Result<Duration, BoxError> {
    let client = client(endpoint).await;
    let mut times = Vec::with_capacity(count);
    for _ in 0..count.max(1) + 1 {
        let started = Instant::now();
        client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())?;
        times.push(started.elapsed());
    }
    // The first opened the connection.
    times.remove(0);
    times.sort_unstable();
    Ok(crate::quantile(&times, 0.5))
}
