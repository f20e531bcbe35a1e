//! Signing calls to the private services with AWS SigV4.
//!
//! On AWS the services' function URLs use `AuthType: AWS_IAM`: only principals allowed
//! `lambda:InvokeFunctionUrl` (the gateway and the worker) can call them, with requests
//! signed by their role's credentials. `SERVICE_AUTH=aws_iam` turns signing on; locally
//! it is off and the services are plain HTTP on loopback.

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::client::identity::Identity;
use reqwest::header::{HeaderName, HeaderValue};

use crate::config::{ConfigError, optional};

/// Signs requests for Lambda function URLs with the instance's AWS credentials.
#[derive(Clone)]
pub struct RequestSigner {
    credentials: SharedCredentialsProvider,
    region: String,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSigner")
            .field("region", &self.region)
            .finish()
    }
}

impl RequestSigner {
    /// A signer when `SERVICE_AUTH=aws_iam`, from the standard AWS configuration chain;
    /// `None` when `SERVICE_AUTH` is unset or `none`.
    pub async fn from_env() -> Result<Option<Self>, ConfigError> {
        match optional("SERVICE_AUTH", "none".to_owned())?.as_str() {
            "none" => Ok(None),
            "aws_iam" => {
                let config = crate::aws::config().await;
                let credentials = config.credentials_provider().ok_or_else(|| {
                    ConfigError::new("SERVICE_AUTH=aws_iam needs AWS credentials")
                })?;
                let region = config
                    .region()
                    .map(|r| r.to_string())
                    .ok_or_else(|| ConfigError::new("SERVICE_AUTH=aws_iam needs AWS_REGION"))?;
                Ok(Some(Self {
                    credentials,
                    region,
                }))
            }
            other => Err(ConfigError::new(format!(
                "SERVICE_AUTH={other:?} is invalid: use none or aws_iam"
            ))),
        }
    }

    /// Adds the SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`,
    /// `x-amz-content-sha256`) for the `lambda` service to `request`.
    pub async fn sign(&self, request: &mut reqwest::Request) -> Result<(), String> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials: {e}"))?;
        let identity: Identity = credentials.into();
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .unwrap_or_default();
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.url().as_str(),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        for (name, value) in instructions.headers() {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            request.headers_mut().insert(name, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;

    use super::*;

    #[tokio::test]
    async fn a_signed_request_carries_a_sigv4_authorization_for_lambda() {
        let signer = RequestSigner {
            credentials: SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )),
            region: "eu-west-1".into(),
        };
        let client = reqwest::Client::new();
        let mut request = client
            .post("https://abc.lambda-url.eu-west-1.on.aws/reservations/o-1/commit")
            .header("content-type", "application/json")
            .body("{}")
            .build()
            .expect("request");
        signer.sign(&mut request).await.expect("signed");
        let authorization = request.headers()["authorization"].to_str().expect("ascii");
        assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(authorization.contains("/eu-west-1/lambda/aws4_request"));
        assert!(authorization.contains("SignedHeaders="));
        assert!(request.headers().contains_key("x-amz-date"));
    }
}
