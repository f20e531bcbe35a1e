// A saga's timeline, from the live status query while it runs, or rebuilt from its
// events (the customer's feed) once it has finished.
import type { Notification, OrderDetail, StepRecord } from '@/api/client'

type StepName = StepRecord['name']
type StepStatus = StepRecord['status']

/** Rebuilds the steps of an order from its `order.*` events, in order of appearance. */
export function stepsFromEvents(events: Notification[], orderId: string): StepRecord[] {
  const steps = new Map<StepName, StepRecord>()
  const set = (name: StepName, status: StepStatus, event: Notification, attempts = 0, error?: unknown) => {
    const previous = steps.get(name)
    steps.set(name, {
      name,
      status,
      attempts: Math.max(attempts, previous?.attempts ?? 0),
      started_at: previous?.started_at ?? event.created_at,
      finished_at: status === 'completed' || status === 'failed' ? event.created_at : undefined,
      last_error: typeof error === 'string' ? error : previous?.last_error,
    })
  }
  for (const event of events) {
    if (event.order_id !== orderId) continue
    const data = event.data as { step?: StepName; status?: StepStatus; attempts?: number; error?: string }
    if (event.kind === 'order.step' && data.step && data.status) {
      set(data.step, data.status, event, data.attempts ?? 0, data.error)
    } else if (event.kind === 'order.approval_required') {
      set('await_approval', 'waiting', event)
    } else if (event.kind === 'order.completed') {
      set('notify_customer', 'completed', event, 1)
    } else if (event.kind === 'order.cancelled') {
      set('notify_failure', 'completed', event, 1)
    }
  }
  return [...steps.values()]
}

/** What to draw for an order: the live timeline if any, else the rebuilt one. */
export function timelineOf(detail: OrderDetail | undefined, events: Notification[], orderId: string): StepRecord[] {
  const live = detail?.saga?.steps.filter((s) => s.status !== 'pending' && s.status !== 'skipped')
  return live && live.length > 0 ? live : stepsFromEvents(events, orderId)
}
