// Test support for the stores' specs.
import type { EventKind, Notification } from '@/api/client'

/** A notification about order o-1, as the gateway sends it. */
export function notification(id: number | string, kind: EventKind = 'order.step', title = `event ${id}`): Notification {
  return {
    id: String(id),
    kind,
    title,
    body: '',
    order_id: 'o-1',
    data: {},
    created_at: '2026-01-01T00:00:00.000Z',
  }
}
