//! The saga's reporting to the customer: the timeline's events and the notifications
//! recorded in the customer's feed.
//!
//! Since local steps, the feed gets an event only when the customer would otherwise be
//! left without news: a step that is retrying (a service is down or slow) and an order
//! waiting for review. Everything else reaches the feed with the saga's final
//! notification (`order.completed` or `order.cancelled`), which carries the whole
//! timeline, so the happy path records one notification instead of one per step; while
//! the saga runs, its status query has the live timeline. Before local steps, every
//! event was recorded, one call each.

use saga_contract::EventKind;
use serde_json::Value;
use temporalio_common::ActivityDefinition;
use temporalio_sdk::WorkflowContext;

use super::calls::{Scope, shielded_local};
use super::{OrderSaga, Version};
use crate::activities::SagaActivities;
use crate::payloads::NotificationRequest;
use crate::policies::{self, Policy};

impl OrderSaga {
    /// Whether the timeline holds events the feed should get now.
    pub(super) fn has_events_to_publish(&self) -> bool {
        match self.version {
            Version::Remote => self.timeline.has_unpublished(),
            Version::LocalSteps => self.timeline.has_live_unpublished(),
        }
    }

    /// Records the timeline's new events in the customer's feed, in order (since local
    /// steps, only the live ones; the others are in the final notification).
    pub(super) async fn publish_events(ctx: &WorkflowContext<Self>) {
        let (user_id, order_id, version, pending) = ctx.state(|s| {
            (
                s.customer_id.clone(),
                s.order_id.clone(),
                s.version,
                s.timeline.unpublished(),
            )
        });
        for (seq, event) in pending {
            let key = match version {
                Version::Remote => format!("{order_id}.e{seq}"),
                Version::LocalSteps if event.live => format!("{order_id}.{}", event.key),
                Version::LocalSteps => {
                    ctx.state_mut(|s| s.timeline.mark_published(seq));
                    continue;
                }
            };
            let request = NotificationRequest {
                user_id: user_id.clone(),
                key,
                kind: event.kind,
                title: event.title,
                body: String::new(),
                order_id: Some(order_id.clone()),
                data: event.data,
            };
            // Best effort (bounded retries): progress events must not stall the saga.
            let _ = Self::side_call(
                ctx,
                SagaActivities::record_notification,
                request,
                policies::STEP_EVENT,
            )
            .await;
            ctx.state_mut(|s| s.timeline.mark_published(seq));
        }
    }

    /// A call on the side of the saga's steps (an event, an alert, a breaker reset):
    /// shielded, best effort, with no timeline of its own; locally since local steps.
    pub(super) async fn side_call<A>(
        ctx: &WorkflowContext<Self>,
        activity: A,
        input: A::Input,
        policy: Policy,
    ) -> Result<A::Output, temporalio_sdk::ActivityExecutionError>
    where
        A: ActivityDefinition,
    {
        match ctx.state(|s| s.version) {
            Version::Remote => {
                let options = Scope::Shielded.activity(policy.activity());
                ctx.execute_activity(activity, input, options).await
            }
            Version::LocalSteps => {
                ctx.execute_local_activity(activity, input, shielded_local(policy))
                    .await
            }
        }
    }

    pub(super) fn customer_notification(
        ctx: &WorkflowContext<Self>,
        kind: EventKind,
        title: &str,
        body: String,
    ) -> NotificationRequest {
        let (user_id, order_id) = ctx.state(|s| (s.customer_id.clone(), s.order_id.clone()));
        NotificationRequest {
            user_id,
            key: format!("{order_id}.{}", kind.as_str()),
            kind,
            title: title.to_owned(),
            body,
            order_id: Some(order_id),
            data: Default::default(),
        }
    }

    /// The saga's last word to the customer; since local steps it carries the steps
    /// the saga ran, which the feed otherwise no longer has.
    pub(super) fn final_notification(
        ctx: &WorkflowContext<Self>,
        kind: EventKind,
        title: &str,
        body: String,
    ) -> NotificationRequest {
        let mut notification = Self::customer_notification(ctx, kind, title, body);
        let (version, steps) = ctx.state(|s| (s.version, s.timeline.ran()));
        if version == Version::LocalSteps {
            let steps = serde_json::to_value(steps).unwrap_or(Value::Null);
            notification.data.insert("steps".to_owned(), steps);
        }
        notification
    }
}
