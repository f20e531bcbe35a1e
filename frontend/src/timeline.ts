// A saga's timeline, from the live status query while it runs, or rebuilt from its
// events (the customer's feed) once it has finished. The saga's final notification
// (`order.completed`, `order.cancelled`) carries the steps it ran in `data.steps`; the
// feed's other events are its retries and reviews (sagas started before the saga ran
// its steps locally recorded one `order.step` event per step change instead).
import type { Notification, OrderDetail, StepRecord } from '@/api/client'

type StepName = StepRecord['name']
type StepStatus = StepRecord['status']

/** Rebuilds the steps of an order from its `order.*` events, in order of appearance. */
export function stepsFromEvents(events: Notification[], orderId: string): StepRecord[] {
  let steps = new Map<StepName, StepRecord>()
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
    } else if (event.kind === 'order.completed' || event.kind === 'order.cancelled') {
      const reported = finalSteps(event)
      if (reported.length > 0) {
        // The saga's own account, in the order the steps ran.
        const before = steps
        steps = new Map(reported.map((record) => [record.name, merged(before.get(record.name), record)]))
      }
      set(event.kind === 'order.completed' ? 'notify_customer' : 'notify_failure', 'completed', event, 1)
    }
  }
  return [...steps.values()]
}

/** The steps a final notification reports, as far as they ran. */
function finalSteps(event: Notification): StepRecord[] {
  const reported = (event.data as { steps?: unknown }).steps
  return Array.isArray(reported) ? (reported as StepRecord[]).filter((s) => s && s.name && s.status) : []
}

/** A reported step over what the feed said of it before: the retries' error stays. */
function merged(previous: StepRecord | undefined, record: StepRecord): StepRecord {
  return {
    ...record,
    attempts: Math.max(record.attempts ?? 0, previous?.attempts ?? 0),
    last_error: record.last_error ?? previous?.last_error,
  }
}

/** What to draw for an order: the live timeline if any, else the rebuilt one. */
export function timelineOf(detail: OrderDetail | undefined, events: Notification[], orderId: string): StepRecord[] {
  const live = detail?.saga?.steps.filter((s) => s.status !== 'pending' && s.status !== 'skipped')
  return live && live.length > 0 ? live : stepsFromEvents(events, orderId)
}
