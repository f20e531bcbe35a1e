//! What each forward step does (the table in `steps.rs` says how it runs): create the
//! order, reserve its stock, have a large order reviewed, take the payment, confirm,
//! and tell the customer.

use saga_contract::SagaInput;
use saga_contract::calls::OrderStatus;
use temporalio_sdk::WorkflowContext;

use super::steps::{FORWARD, step};
use super::{Halt, OrderSaga, Version};
use crate::activities::SagaActivities;
use crate::payloads::{ChargeRequest, CommitRequest, ReserveRequest, StatusRequest};
use saga_contract::{EventKind, ReservationOutcome, StepName};

impl OrderSaga {
    pub(super) async fn forward(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
    ) -> Result<(), Halt> {
        for step in &FORWARD {
            (step.run)(ctx, input).await?;
        }
        Ok(())
    }

    pub(super) async fn create_order(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
    ) -> Result<(), Halt> {
        let create = step(StepName::CreateOrder).call();
        Self::begin(ctx, create.step);
        let created = create
            .effect(ctx, || SagaActivities::create_order, input.clone())
            .await?;
        ctx.state_mut(|s| {
            s.open_elsewhere = created.open_elsewhere.unwrap_or(0);
            s.paid_before = created.paid_before;
        });
        Self::end(ctx, create.step);
        Self::honour_cancellation(ctx)
    }

    pub(super) async fn reserve_stock(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
    ) -> Result<(), Halt> {
        let reserve = step(StepName::ReserveInventory).call();
        let order_id = &input.order_id;
        Self::begin(ctx, reserve.step);
        let lines = ReserveRequest {
            order_id: order_id.clone(),
            lines: input.lines.clone(),
        };
        let reserved = reserve
            .effect(ctx, || SagaActivities::reserve_inventory, lines)
            .await;
        let outcome = match &reserved {
            Ok(_) => ReservationOutcome {
                held: true,
                ..ReservationOutcome::default()
            },
            Err(halt) => halt.reservation_outcome(),
        };
        ctx.state_mut(|s| s.reservation = Some(outcome));
        reserved?;
        let reserved = status_request(order_id, OrderStatus::Reserved, Vec::new());
        reserve
            .run(ctx, || SagaActivities::set_order_status, reserved)
            .await?;
        Self::end(ctx, reserve.step);
        Self::honour_cancellation(ctx)
    }

    pub(super) async fn review_if_large(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
    ) -> Result<(), Halt> {
        let (open_elsewhere, paid_before) = ctx.state(|s| (s.open_elsewhere, s.paid_before));
        // A reset saga whose order was paid before passed its review then.
        if input.needs_approval_with(open_elsewhere) && !paid_before {
            Self::await_approval(ctx, input).await?;
        }
        Self::honour_cancellation(ctx)
    }

    pub(super) async fn take_payment(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
    ) -> Result<(), Halt> {
        let charge = step(StepName::ChargePayment).call();
        let order_id = &input.order_id;
        ctx.state_mut(|s| s.payment_started = true);
        Self::begin(ctx, charge.step);
        let payment = ChargeRequest {
            order_id: order_id.clone(),
            amount: input.total(),
            currency: input.currency.clone(),
            method: input.payment_method.clone(),
        };
        charge
            .effect(ctx, || SagaActivities::charge_payment, payment)
            .await?;
        // A request that arrived while the charge was in flight is still honoured: the
        // charge is refunded.
        Self::honour_cancellation(ctx)?;
        if ctx.state(|s| s.version) == Version::Remote {
            // Since local steps, the order becomes PAID together with COMPLETED.
            let paid = status_request(order_id, OrderStatus::Paid, Vec::new());
            charge
                .shielded()
                .run(ctx, || SagaActivities::set_order_status, paid)
                .await?;
        }
        Self::end(ctx, charge.step);
        Ok(())
    }

    /// Sells the held stock and completes the order, which passes through PAID in the
    /// same write (both happen in one workflow task).
    pub(super) async fn confirm(
        ctx: &WorkflowContext<Self>,
        input: &SagaInput,
    ) -> Result<(), Halt> {
        let confirm = step(StepName::ConfirmOrder).call();
        let order_id = &input.order_id;
        Self::begin(ctx, confirm.step);
        let version = ctx.state(|s| s.version);
        match version {
            Version::Remote => {
                confirm
                    .run(ctx, || SagaActivities::commit_inventory, order_id.clone())
                    .await?;
            }
            Version::LocalSteps => {
                let commit = CommitRequest {
                    order_id: order_id.clone(),
                    lines: input.lines.clone(),
                };
                confirm
                    .run(ctx, || SagaActivities::commit_reservation, commit)
                    .await?;
            }
        }
        let via = match version {
            Version::Remote => Vec::new(),
            Version::LocalSteps => vec![OrderStatus::Paid],
        };
        let completed = status_request(order_id, OrderStatus::Completed, via);
        confirm
            .run(ctx, || SagaActivities::set_order_status, completed)
            .await?;
        Self::end(ctx, confirm.step);
        Ok(())
    }

    /// The order is complete whatever happens to the notification; its step keeps
    /// retrying (unlimited) and, should it be refused, the timeline shows why.
    pub(super) async fn notify_completed(
        ctx: &WorkflowContext<Self>,
        _input: &SagaInput,
    ) -> Result<(), Halt> {
        let notify = step(StepName::NotifyCustomer).call();
        Self::begin(ctx, notify.step);
        let notification = Self::final_notification(
            ctx,
            EventKind::OrderCompleted,
            "Your order is complete",
            "Payment received and stock confirmed.".to_owned(),
        );
        if notify
            .run(ctx, || SagaActivities::record_notification, notification)
            .await
            .is_ok()
        {
            Self::end(ctx, notify.step);
        }
        Ok(())
    }
}

fn status_request(order_id: &str, status: OrderStatus, via: Vec<OrderStatus>) -> StatusRequest {
    StatusRequest {
        order_id: order_id.to_owned(),
        status,
        via,
    }
}
