use super::*;

fn input(lines: &[(u32, u64)], threshold: u64) -> SagaInput {
    SagaInput {
        order_id: "o".into(),
        customer_id: "c".into(),
        lines: lines
            .iter()
            .map(|&(quantity, unit_price)| OrderLine {
                sku: "S".into(),
                quantity,
                unit_price,
            })
            .collect(),
        currency: "EUR".into(),
        payment_method: "card_approve".into(),
        approval: ApprovalPolicy {
            threshold,
            timeout_secs: 60,
        },
    }
}

#[test]
fn methods_round_trip_through_their_names() {
    for name in [
        "card_approve",
        "card_decline",
        "card_transient_3",
        "card_slow",
    ] {
        let method: PaymentMethod = name.parse().expect("known");
        assert_eq!(method.to_string(), name);
    }
    for bad in [
        "visa",
        "card_transient_0",
        "card_transient_10",
        "card_transient_x",
        "",
    ] {
        assert!(bad.parse::<PaymentMethod>().is_err(), "{bad}");
    }
}

#[test]
fn orders_above_the_threshold_need_approval() {
    assert_eq!(input(&[(2, 300), (1, 400)], 1000).total(), 1000);
    assert!(!input(&[(2, 300), (1, 400)], 1000).needs_approval());
    assert!(input(&[(2, 300), (1, 401)], 1000).needs_approval());
}

#[test]
fn the_customers_other_open_orders_count_toward_the_threshold() {
    let order = input(&[(1, 600)], 1000);
    assert!(!order.needs_approval_with(400));
    assert!(order.needs_approval_with(401));
    assert!(order.needs_approval_with(u64::MAX));
}

#[test]
fn absurd_totals_saturate_instead_of_overflowing() {
    assert_eq!(input(&[(u32::MAX, u64::MAX)], 0).total(), u64::MAX);
}

#[test]
fn the_approval_policy_defaults_to_fifteen_minutes() {
    let json = r#"{"order_id":"o","customer_id":"c","lines":[],"currency":"EUR","payment_method":"card_approve"}"#;
    let input: SagaInput = serde_json::from_str(json).expect("parses");
    assert_eq!(input.approval.timeout_secs, 900);
}

#[test]
fn an_attention_reason_is_named_as_it_serializes() {
    let reason = AttentionReason::CompensationStuck;
    assert_eq!(
        serde_json::to_value(reason).expect("serializes"),
        reason.as_str()
    );
}

#[test]
fn a_phase_is_named_as_it_serializes() {
    for phase in [
        SagaPhase::Running,
        SagaPhase::AwaitingApproval,
        SagaPhase::Compensating,
        SagaPhase::Completed,
        SagaPhase::Cancelled,
    ] {
        assert_eq!(
            serde_json::to_value(phase).expect("serializes"),
            phase.as_str()
        );
    }
}

#[test]
fn an_outcome_is_named_as_it_serializes_and_parses_back() {
    for outcome in SagaOutcome::ALL {
        assert_eq!(
            serde_json::to_value(outcome).expect("serializes"),
            outcome.as_str()
        );
        assert_eq!(SagaOutcome::parse(outcome.as_str()), Some(outcome));
    }
    assert_eq!(SagaOutcome::parse("completed"), None);
}

#[test]
fn a_compensation_is_counted_by_its_cause() {
    use SagaOutcome::*;
    assert_eq!(
        SagaOutcome::compensated(Some(Refusal::PaymentDeclined), false),
        PaymentDeclined
    );
    assert_eq!(
        SagaOutcome::compensated(Some(Refusal::OutOfStock), false),
        OutOfStock
    );
    assert_eq!(
        SagaOutcome::compensated(Some(Refusal::OpenOrderLimit), false),
        Refused
    );
    assert_eq!(SagaOutcome::compensated(None, true), Decided);
    assert_eq!(SagaOutcome::compensated(None, false), StepFailed);
}

#[test]
fn a_decision_is_named_as_it_serializes() {
    for action in [
        DecisionAction::Approve,
        DecisionAction::Reject,
        DecisionAction::Cancel,
    ] {
        assert_eq!(
            serde_json::to_value(action).expect("serializes"),
            action.as_str()
        );
    }
}

#[test]
fn steps_and_their_statuses_are_named_as_they_serialize() {
    for step in StepName::ALL {
        assert_eq!(
            serde_json::to_value(step).expect("serializes"),
            step.as_str()
        );
    }
    use StepStatus::*;
    for status in [
        Pending, Running, Retrying, Waiting, Completed, Failed, Skipped,
    ] {
        assert_eq!(
            serde_json::to_value(status).expect("serializes"),
            status.as_str()
        );
    }
}

#[test]
fn refusals_and_event_kinds_are_named_as_they_serialize_and_found_by_name() {
    for refusal in Refusal::ALL {
        assert_eq!(
            serde_json::to_value(refusal).expect("serializes"),
            refusal.as_str()
        );
        assert_eq!(Refusal::from_slug(refusal.as_str()), Some(refusal));
        assert!((400..500).contains(&refusal.status()));
    }
    assert_eq!(Refusal::from_slug("service-unavailable"), None);
    assert_eq!(Refusal::from_slug("not-found"), None);
    for kind in EventKind::ALL {
        assert_eq!(
            serde_json::to_value(kind).expect("serializes"),
            kind.as_str()
        );
    }
    let finals: Vec<EventKind> = EventKind::ALL
        .into_iter()
        .filter(|k| k.is_final())
        .collect();
    assert_eq!(
        finals,
        [EventKind::OrderCompleted, EventKind::OrderCancelled]
    );
}
