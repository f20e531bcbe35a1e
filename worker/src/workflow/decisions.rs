//! Decisions about a running order, sent as the `decide` Update: a reviewer approves or
//! rejects a large order, the customer cancels. The validator ([`OrderSaga::refusal`])
//! runs before anything enters the history, so a decision that can no longer take
//! effect is refused with its reason and leaves no trace; an accepted one is applied at
//! once and answered with the saga's status.

use saga_contract::{
    Decider, DeciderRole, DecisionAction, OrderDecision, SagaPhase, SagaStatus, StepName,
    StepStatus, refusals,
};
use temporalio_sdk::WorkflowContext;

use super::{ApprovalDecision, Halt, OPERATOR_CANCELLATION, OrderSaga, Version};

impl OrderSaga {
    /// A Temporal cancellation request has arrived (it is part of the history, so
    /// every replay sees it at the same point).
    pub(super) fn operator_cancelled(ctx: &WorkflowContext<Self>) -> bool {
        ctx.cancellation_token().is_cancelled()
    }

    /// Stops the forward path if the customer or an operator asked to cancel.
    ///
    /// Since local steps, an operator's cancellation counts once the saga has taken
    /// note of it: at the start of a cancellable step, or while one ran. One it learns
    /// together with a step's outcome waits for the next step's start. That keeps the
    /// decision of a workflow task the same when it runs again: a task that completes
    /// the saga is refused by the server if a cancellation arrives meanwhile, and its
    /// local activities, which took effect, run again in a task that also sees the
    /// cancellation; had that one compensated, it would undo a confirmed order.
    pub(super) fn honour_cancellation(ctx: &WorkflowContext<Self>) -> Result<(), Halt> {
        let (requested, version, noted) =
            ctx.state(|s| (s.cancel_requested.clone(), s.version, s.cancel_noted));
        if let Some(reason) = requested {
            return Err(Halt::because(cancellation_reason(reason)));
        }
        let operator = match version {
            Version::Remote => Self::operator_cancelled(ctx),
            Version::LocalSteps => noted,
        };
        if operator {
            return Err(Halt::because(OPERATOR_CANCELLATION.to_owned()));
        }
        Ok(())
    }

    /// Takes note of an operator's cancellation, if one has arrived.
    pub(super) fn note_cancellation(ctx: &WorkflowContext<Self>) {
        if Self::operator_cancelled(ctx) {
            ctx.state_mut(|s| s.cancel_noted = true);
        }
    }

    /// Why `decision` cannot take effect now, or `None` when it can. Repeating an
    /// accepted cancellation is accepted again (a client's retry changes nothing).
    pub(super) fn refusal(&self, decision: &OrderDecision) -> Option<&'static str> {
        let phase = self.timeline.phase();
        if matches!(phase, SagaPhase::Completed | SagaPhase::Cancelled) {
            return Some(refusals::CLOSED);
        }
        match decision.action {
            DecisionAction::Approve | DecisionAction::Reject => {
                if self.approval.is_some() {
                    Some(refusals::ALREADY_REVIEWED)
                } else if phase != SagaPhase::AwaitingApproval {
                    Some(refusals::NOT_IN_REVIEW)
                } else {
                    self.reviewer_refusal(decision.decided_by.as_ref())
                }
            }
            DecisionAction::Cancel => {
                if let Some(refusal) = self.canceller_refusal(decision.decided_by.as_ref()) {
                    Some(refusal)
                } else if self.cancel_requested.is_some() {
                    None
                } else if self.payment_started {
                    Some(refusals::PAYMENT_STARTED)
                } else if phase == SagaPhase::Compensating {
                    Some(refusals::ALREADY_CANCELLING)
                } else {
                    None
                }
            }
        }
    }

    /// Why `decider` may not review this order: the saga enforces it itself, since
    /// the `decide` update reaches it from anyone who can reach Temporal, not only
    /// through the gateway's checks. A decision without a decider is taken only by
    /// sagas started before signed reviews (recorded decisions have none).
    fn reviewer_refusal(&self, decider: Option<&Decider>) -> Option<&'static str> {
        match decider {
            Some(decider) if decider.id == self.customer_id => Some(refusals::OWN_ORDER),
            Some(decider) if decider.role != DeciderRole::Admin => Some(refusals::NO_REVIEWER),
            Some(_) => None,
            None if self.signed_reviews => Some(refusals::NO_REVIEWER),
            None => None,
        }
    }

    /// Who may cancel: the order's customer, or staff. Sagas started before signed
    /// reviews also take a cancellation that names nobody, as their histories recorded.
    /// (A validator runs only when an update arrives, never on replay: tightening it
    /// changes no recorded history.)
    fn canceller_refusal(&self, decider: Option<&Decider>) -> Option<&'static str> {
        match decider {
            Some(decider) if decider.id == self.customer_id => None,
            Some(decider) if decider.role == DeciderRole::Admin => None,
            Some(_) => Some(refusals::NOT_THE_CUSTOMER),
            None if self.signed_reviews => Some(refusals::NOT_THE_CUSTOMER),
            None => None,
        }
    }

    /// Applies an accepted decision (at workflow time `now`) and returns the status
    /// the caller is answered with. A review settles the approval step here, so the
    /// answer shows it; the workflow then goes on from the decision.
    pub(super) fn apply(&mut self, now: &str, decision: OrderDecision) -> SagaStatus {
        match decision.action {
            DecisionAction::Approve => {
                self.approval = Some(ApprovalDecision::Approved);
                self.settle_review(now, None, decision.decided_by);
            }
            DecisionAction::Reject => {
                let refusal = review_rejection(decision.reason.as_deref());
                self.approval = Some(ApprovalDecision::RejectedInReview(decision.reason));
                self.settle_review(now, Some(&refusal), decision.decided_by);
            }
            DecisionAction::Cancel => {
                self.cancel_requested.get_or_insert(decision.reason);
                self.timeline.cancel_requested();
            }
        }
        self.timeline.snapshot()
    }

    /// Ends the wait for review, once: completed, or failed with `refusal`, by the
    /// reviewer `decider` if a reviewer decided. Whichever comes first settles it (a
    /// decision, the deadline, a cancellation).
    pub(super) fn settle_review(
        &mut self,
        now: &str,
        refusal: Option<&str>,
        decider: Option<Decider>,
    ) {
        let waiting = self
            .timeline
            .step(StepName::AwaitApproval)
            .is_some_and(|step| step.status == StepStatus::Waiting);
        if !waiting {
            return;
        }
        self.timeline.approval_settled();
        if let Some(decider) = decider {
            self.timeline.reviewed_by(decider);
        }
        match refusal {
            Some(reason) => self
                .timeline
                .fail(StepName::AwaitApproval, now, None, reason),
            None => self.timeline.complete(StepName::AwaitApproval, now),
        }
    }
}

pub(super) fn cancellation_reason(reason: Option<String>) -> String {
    match reason {
        Some(reason) => format!("cancelled by the customer: {reason}"),
        None => "cancelled by the customer".to_owned(),
    }
}

pub(super) fn review_rejection(reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("rejected in review: {reason}"),
        None => "rejected in review".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use saga_contract::{
        Decider, DeciderRole, DecisionAction, OrderDecision, SagaPhase, StepName, StepStatus,
        refusals,
    };

    use crate::timeline::Timeline;

    use super::super::OrderSaga;
    use super::super::steps::FORWARD;

    fn reviewer() -> Decider {
        Decider {
            id: "staff-1".into(),
            role: DeciderRole::Admin,
        }
    }

    fn decision(action: DecisionAction) -> OrderDecision {
        OrderDecision {
            action,
            reason: None,
            decided_by: Some(reviewer()),
        }
    }

    /// A large order's saga (customer `c-1`), waiting for review.
    fn in_review() -> OrderSaga {
        let mut saga = OrderSaga {
            customer_id: "c-1".into(),
            timeline: Timeline::new("o-1", "c-1", FORWARD.iter().map(|s| s.name)),
            signed_reviews: true,
            ..OrderSaga::default()
        };
        saga.timeline.await_approval("t0", "t1", 90_000, "EUR");
        saga
    }

    #[test]
    fn a_review_applies_only_to_an_order_awaiting_it_and_only_once() {
        let mut saga = in_review();
        assert_eq!(saga.refusal(&decision(DecisionAction::Approve)), None);
        let status = saga.apply("t2", decision(DecisionAction::Approve));
        assert_eq!(status.phase, SagaPhase::Running);
        let step = saga.timeline.step(StepName::AwaitApproval).expect("step");
        assert_eq!(step.status, StepStatus::Completed);
        assert_eq!(step.decided_by, Some(reviewer()));
        assert_eq!(step.finished_at.as_deref(), Some("t2"));
        assert_eq!(
            saga.refusal(&decision(DecisionAction::Reject)),
            Some(refusals::ALREADY_REVIEWED)
        );

        let running = OrderSaga {
            timeline: Timeline::new("o-2", "c-1", FORWARD.iter().map(|s| s.name)),
            ..OrderSaga::default()
        };
        assert_eq!(
            running.refusal(&decision(DecisionAction::Approve)),
            Some(refusals::NOT_IN_REVIEW)
        );
    }

    #[test]
    fn a_rejection_fails_the_review_with_its_reason() {
        let mut saga = in_review();
        let status = saga.apply(
            "t2",
            OrderDecision {
                action: DecisionAction::Reject,
                reason: Some("address unverified".into()),
                decided_by: Some(reviewer()),
            },
        );
        let step = status
            .steps
            .iter()
            .find(|s| s.name == StepName::AwaitApproval)
            .expect("step");
        assert_eq!(step.status, StepStatus::Failed);
        assert_eq!(
            step.last_error.as_deref(),
            Some("rejected in review: address unverified")
        );
        assert_eq!(step.decided_by, Some(reviewer()));
    }

    #[test]
    fn a_review_names_a_reviewer_who_is_not_the_customer() {
        let saga = in_review();
        for action in [DecisionAction::Approve, DecisionAction::Reject] {
            let unsigned = OrderDecision {
                decided_by: None,
                ..decision(action)
            };
            assert_eq!(saga.refusal(&unsigned), Some(refusals::NO_REVIEWER));
            let by_customer = OrderDecision {
                decided_by: Some(Decider {
                    id: "c-1".into(),
                    role: DeciderRole::Admin,
                }),
                ..decision(action)
            };
            assert_eq!(saga.refusal(&by_customer), Some(refusals::OWN_ORDER));
            let by_a_customer = OrderDecision {
                decided_by: Some(Decider {
                    id: "c-2".into(),
                    role: DeciderRole::Customer,
                }),
                ..decision(action)
            };
            assert_eq!(saga.refusal(&by_a_customer), Some(refusals::NO_REVIEWER));
        }
        // The customer's own cancellation needs no reviewer.
        let by_the_customer = OrderDecision {
            decided_by: Some(Decider {
                id: "c-1".into(),
                role: DeciderRole::Customer,
            }),
            ..decision(DecisionAction::Cancel)
        };
        assert_eq!(saga.refusal(&by_the_customer), None);

        // A saga started before signed reviews takes an unsigned review, as recorded.
        let unsigned_era = OrderSaga {
            signed_reviews: false,
            ..in_review()
        };
        let unsigned = OrderDecision {
            decided_by: None,
            ..decision(DecisionAction::Approve)
        };
        assert_eq!(unsigned_era.refusal(&unsigned), None);
    }

    #[test]
    fn only_the_customer_or_staff_cancels() {
        let saga = in_review();
        let cancel = |decided_by| OrderDecision {
            decided_by,
            ..decision(DecisionAction::Cancel)
        };
        let customer = |id: &str| Decider {
            id: id.into(),
            role: DeciderRole::Customer,
        };
        assert_eq!(saga.refusal(&cancel(Some(customer("c-1")))), None);
        assert_eq!(saga.refusal(&cancel(Some(reviewer()))), None);
        assert_eq!(
            saga.refusal(&cancel(Some(customer("c-2")))),
            Some(refusals::NOT_THE_CUSTOMER)
        );
        assert_eq!(
            saga.refusal(&cancel(None)),
            Some(refusals::NOT_THE_CUSTOMER)
        );
        // Before signed reviews, a cancellation named nobody.
        let unsigned_era = OrderSaga {
            signed_reviews: false,
            ..in_review()
        };
        assert_eq!(unsigned_era.refusal(&cancel(None)), None);
    }

    #[test]
    fn a_cancellation_applies_until_the_payment_starts_and_may_be_repeated() {
        let mut saga = in_review();
        assert_eq!(saga.refusal(&decision(DecisionAction::Cancel)), None);
        assert!(
            saga.apply("t2", decision(DecisionAction::Cancel))
                .cancel_requested
        );
        assert_eq!(saga.refusal(&decision(DecisionAction::Cancel)), None);

        let mut paying = in_review();
        paying.payment_started = true;
        assert_eq!(
            paying.refusal(&decision(DecisionAction::Cancel)),
            Some(refusals::PAYMENT_STARTED)
        );
        paying.timeline.finish(SagaPhase::Completed);
        assert_eq!(
            paying.refusal(&decision(DecisionAction::Cancel)),
            Some(refusals::CLOSED)
        );
    }
}
