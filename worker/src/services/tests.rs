use saga_contract::Refusal;
use service_kit::testing::answer;

use super::*;

/// What a saga step makes of this answer, as the shared client sorts it.
async fn classified(status: u16, content_type: &str, body: &str) -> CallError {
    let error = downstream::classify(answer(status, content_type, body))
        .await
        .expect_err("not a success");
    CallError::from_call("svc", error)
}

fn problem(status: u16, slug: &str) -> String {
    serde_json::json!({"type": format!("/problems/{slug}"), "title": slug, "status": status})
        .to_string()
}

#[tokio::test]
async fn answers_are_refusals_only_with_a_business_problem_type() {
    let json = "application/problem+json";
    let refusal = classified(409, json, &problem(409, "out-of-stock")).await;
    assert!(
        matches!(refusal, CallError::Refused { status: 409, ref kind, .. } if *kind == Refusal::OutOfStock)
    );
    // From IAM or a router: no problem type at all.
    for status in [401, 403, 404] {
        let error = classified(status, "application/json", r#"{"Message":"Forbidden"}"#).await;
        assert!(
            matches!(error, CallError::Unexpected { kind: None, .. }),
            "{status}: {error:?}"
        );
        assert!(!error.is_not_found());
    }
    let not_found = classified(404, json, &problem(404, "not-found")).await;
    assert!(not_found.is_not_found(), "{not_found:?}");
    // A business slug on a status that is not a client error is not a refusal.
    let odd = classified(500, json, &problem(500, "out-of-stock")).await;
    assert!(matches!(odd, CallError::Unavailable { .. }), "{odd:?}");
    for status in [408, 429, 502, 503] {
        let error = classified(status, "text/plain", "busy").await;
        assert!(
            matches!(error, CallError::Unavailable { .. }),
            "{status}: {error:?}"
        );
    }
}

#[test]
fn the_public_message_leaves_addresses_and_transport_errors_out() {
    let unavailable = CallError::Unavailable {
        service: "payment",
        detail: "error sending request for url (http://10.0.3.7:3004/payments/o-1/charge)".into(),
        problem: None,
    };
    assert_eq!(unavailable.public_message(), "payment is unavailable");
    let transient = CallError::Unavailable {
        service: "payment",
        detail: "503 Retry later. (from http://10.0.3.7:3004)".into(),
        problem: Some("Retry later.".into()),
    };
    assert_eq!(
        transient.public_message(),
        "payment is unavailable: Retry later."
    );
    let unexpected = CallError::Unexpected {
        service: "order",
        status: 403,
        kind: None,
        detail: "{\"Message\":\"Forbidden\"} from arn:aws:lambda:...".into(),
    };
    assert_eq!(unexpected.public_message(), "order answered 403");
    let refused = CallError::Refused {
        service: "inventory",
        status: 409,
        kind: Refusal::OutOfStock,
        detail: "MUG: 5 requested, 2 available".into(),
    };
    assert_eq!(
        refused.public_message(),
        "inventory refused: MUG: 5 requested, 2 available"
    );
}

#[tokio::test]
async fn only_business_problem_types_are_refusals() {
    for refusal in [
        Refusal::OutOfStock,
        Refusal::PaymentDeclined,
        Refusal::ValidationFailed,
    ] {
        let error = classified(
            refusal.status(),
            "application/problem+json",
            &problem(refusal.status(), refusal.as_str()),
        )
        .await;
        assert!(
            matches!(error, CallError::Refused { kind, .. } if kind == refusal),
            "{refusal:?}: {error:?}"
        );
    }
    for slug in ["not-found", "forbidden", "internal-error", "injected-fault"] {
        let error = classified(409, "application/problem+json", &problem(409, slug)).await;
        assert!(
            matches!(error, CallError::Unexpected { .. }),
            "{slug}: {error:?}"
        );
    }
}
