//! The saga's reporting to the customer: the timeline's events and the notifications
//! recorded in the customer's feed.

use temporalio_sdk::WorkflowContext;

use super::OrderSaga;
use super::steps::Scope;
use crate::activities::SagaActivities;
use crate::payloads::NotificationRequest;
use crate::policies;

impl OrderSaga {
    /// Records the timeline's new events in the customer's notification feed, in order.
    pub(super) async fn publish_events(ctx: &WorkflowContext<Self>) {
        let (user_id, order_id, pending) = ctx.state(|s| {
            (
                s.customer_id.clone(),
                s.order_id.clone(),
                s.timeline.unpublished(),
            )
        });
        for (seq, event) in pending {
            let request = NotificationRequest {
                user_id: user_id.clone(),
                key: format!("{order_id}.e{seq}"),
                kind: event.kind,
                title: event.title,
                body: String::new(),
                order_id: Some(order_id.clone()),
                data: event.data,
            };
            // Best effort (bounded retries): progress events must not stall the saga.
            let _ = ctx
                .execute_activity(
                    SagaActivities::record_notification,
                    request,
                    Scope::Shielded.activity(policies::step_event()),
                )
                .await;
            ctx.state_mut(|s| s.timeline.mark_published(seq));
        }
    }

    pub(super) fn customer_notification(
        ctx: &WorkflowContext<Self>,
        kind: &str,
        title: &str,
        body: String,
    ) -> NotificationRequest {
        let (user_id, order_id) = ctx.state(|s| (s.customer_id.clone(), s.order_id.clone()));
        NotificationRequest {
            user_id,
            key: format!("{order_id}.{kind}"),
            kind: kind.to_owned(),
            title: title.to_owned(),
            body,
            order_id: Some(order_id),
            data: Default::default(),
        }
    }
}
