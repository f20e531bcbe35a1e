// Orders: placing them, and keeping what is shown of them current as saga events
// arrive.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, unwrap, type Order, type OrderDetail } from '@/api/client'
import type { CartLine } from './cart'
import { useNotificationsStore } from './notifications'

/** An idempotency key per checkout: a retried click places the same order. */
export function newIdempotencyKey(): string {
  return `ui-${crypto.randomUUID()}`
}

export const useOrdersStore = defineStore('orders', () => {
  const list = ref<Order[]>([])
  const details = ref<Record<string, OrderDetail>>({})

  async function place(lines: CartLine[], paymentMethod: string, key: string) {
    return unwrap(
      api.POST('/v1/orders', {
        params: { header: { 'Idempotency-Key': key } },
        body: { lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity })), payment_method: paymentMethod },
      }),
    )
  }

  async function loadList() {
    list.value = (await unwrap(api.GET('/v1/orders', { params: { query: { limit: 50 } } }))).items
  }

  /** The loads asked for each order shown, counted: only the latest one's answer is
   * kept, since an earlier one may have read the order before a change that an event
   * since reported. */
  const loads: Record<string, number> = {}

  async function load(orderId: string) {
    const mine = (loads[orderId] = (loads[orderId] ?? 0) + 1)
    const detail = await unwrap(api.GET('/v1/orders/{order_id}', { params: { path: { order_id: orderId } } }))
    if (loads[orderId] === mine) details.value[orderId] = detail
    return detail
  }

  /** Asks the saga to cancel. Its answer, the saga's status with the cancellation
   * requested, replaces what is shown; a refusal (409) is thrown with the saga's reason. */
  async function cancel(orderId: string, reason?: string) {
    const saga = await unwrap(
      api.POST('/v1/orders/{order_id}/cancel', { params: { path: { order_id: orderId } }, body: { reason } }),
    )
    const detail = details.value[orderId]
    if (detail) details.value[orderId] = { ...detail, saga }
    return saga
  }

  // Every event about an order refreshes what is shown of it, also while its first load
  // is still on its way (the saga may finish in the meantime: a declined card does).
  useNotificationsStore().onEvent((event) => {
    if (!event.order_id) return
    if (event.order_id in loads) void load(event.order_id).catch(() => undefined)
    if (list.value.some((o) => o.order_id === event.order_id) || event.kind === 'order.step')
      void loadList().catch(() => undefined)
  })

  return { list, details, place, loadList, load, cancel }
})
