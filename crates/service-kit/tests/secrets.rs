//! Secrets from Secrets Manager (moto's server, as `infra/test.sh` starts it): fetched
//! at run time, cached, refreshed after their time to live, and kept through a failed
//! refresh.

use std::time::Duration;

use service_kit::secrets::Secret;
use service_kit::testing;

#[tokio::test]
async fn a_secret_is_fetched_from_secrets_manager() {
    let client = testing::secrets_manager().await;
    let arn = testing::new_secret(&client, "first-value").await;
    let secret = Secret::secrets_manager("JWT_SECRET", &arn).await;
    assert_eq!(&*secret.get().await.expect("fetched"), "first-value");
}

#[tokio::test]
async fn a_rotated_secret_is_picked_up_once_the_cached_value_is_stale() {
    let client = testing::secrets_manager().await;
    let arn = testing::new_secret(&client, "before-rotation").await;
    let cached = Secret::secrets_manager("S", &arn).await;
    let fresh = Secret::secrets_manager("S", &arn)
        .await
        .with_cache_ttl(Duration::ZERO);
    assert_eq!(&*cached.get().await.expect("fetched"), "before-rotation");
    assert_eq!(&*fresh.get().await.expect("fetched"), "before-rotation");

    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("after-rotation")
        .send()
        .await
        .expect("rotate");
    assert_eq!(&*cached.get().await.expect("cached"), "before-rotation");
    assert_eq!(&*fresh.get().await.expect("refetched"), "after-rotation");
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_value_but_no_value_is_an_error() {
    let client = testing::secrets_manager().await;
    let arn = testing::new_secret(&client, "kept").await;
    let secret = Secret::secrets_manager("S", &arn)
        .await
        .with_cache_ttl(Duration::ZERO);
    assert_eq!(&*secret.get().await.expect("fetched"), "kept");
    client
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete");
    assert_eq!(&*secret.get().await.expect("the cached value"), "kept");

    let never_fetched = Secret::secrets_manager("S", &arn).await;
    let error = never_fetched.get().await.expect_err("nothing to serve");
    assert!(
        error.to_string().contains("secret S unavailable"),
        "{error}"
    );
}
