import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// An absolute API base: jsdom's Request needs absolute URLs.
vi.hoisted(() => vi.stubEnv('VITE_API_BASE', 'http://localhost:3000'))

import { useNotificationsStore } from './notifications'
import { useOrdersStore } from './orders'
import { notification } from './testing'

function detail(status: string) {
  return { order_id: 'o-1', status, order: null, saga: null }
}

describe('orders store', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => vi.unstubAllGlobals())

  it('keeps the latest answer when an event arrives while the first load is on its way', async () => {
    // The first load reads the order before the saga cancels it, and answers last.
    const answers: Array<(status: string) => void> = []
    vi.stubGlobal(
      'fetch',
      vi.fn(
        () =>
          new Promise<Response>((resolve) =>
            answers.push((status) =>
              resolve(
                new Response(JSON.stringify(detail(status)), { headers: { 'content-type': 'application/json' } }),
              ),
            ),
          ),
      ),
    )
    const orders = useOrdersStore()
    const first = orders.load('o-1')
    await vi.waitFor(() => expect(answers).toHaveLength(1))
    useNotificationsStore().receive(notification('1', 'order.cancelled', 'Order cancelled'))
    await vi.waitFor(() => expect(answers).toHaveLength(2))
    answers[1]('CANCELLED')
    await vi.waitFor(() => expect(orders.details['o-1']?.status).toBe('CANCELLED'))
    answers[0]('RESERVED')
    await first
    expect(orders.details['o-1']?.status).toBe('CANCELLED')
  })

  it('does not load an order nobody looks at', () => {
    const fetch = vi.fn()
    vi.stubGlobal('fetch', fetch)
    useOrdersStore()
    useNotificationsStore().receive(notification('1', 'order.cancelled', 'Order cancelled'))
    expect(fetch).not.toHaveBeenCalled()
  })
})
