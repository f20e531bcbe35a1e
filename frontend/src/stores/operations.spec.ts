import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

vi.hoisted(() => vi.stubEnv('VITE_API_BASE', 'http://localhost:3000'))

import { useOperationsStore } from './operations'

const json = (status: number, body: unknown, type = 'application/json') =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': type } })

/** A fake gateway answering each load batch with `answer(body)`; the bodies sent are kept. */
function gateway(answer: (body: Record<string, unknown>) => Response) {
  const batches: Record<string, unknown>[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      const body = (await request.json()) as Record<string, unknown>
      batches.push(body)
      return answer(body)
    }),
  )
  return batches
}

const settings = { rate: 3, seconds: 3, sku: 'MUG', cards: { card_approve: 1 } }
const placed = (n: number) => json(200, { placed: n, refused: 0, rate_limited: 0, failed: 0, order_ids: [] })

describe('operations store: a load run', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('sends one batch a second for the run length, numbered from 0, and tallies them', async () => {
    const batches = gateway(() => placed(3))
    const ops = useOperationsStore()
    ops.startLoad(settings)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(batches.map((b) => b.second)).toEqual([0, 1, 2])
    expect(new Set(batches.map((b) => b.run)).size).toBe(1)
    expect(batches[0]).toMatchObject({ orders: 3, sku: 'MUG', cards: { card_approve: 1 } })
    expect(ops.run).toMatchObject({ sent: 3, placed: 9, running: false })
  })

  it('stops at once when the gateway refuses the run itself', async () => {
    const batches = gateway(() =>
      json(
        404,
        {
          type: '/problems/failure-injection-disabled',
          title: 'Failure injection is off',
          status: 404,
          detail: 'Off here.',
        },
        'application/problem+json',
      ),
    )
    const ops = useOperationsStore()
    ops.startLoad(settings)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(batches).toHaveLength(1)
    expect(ops.run).toMatchObject({ running: false, problem: 'Off here.' })
  })

  it('keeps going past a batch over the rate, and stops when asked', async () => {
    const batches = gateway((body) =>
      body.second === 0
        ? json(
            429,
            { type: '/problems/load-rate-limited', title: 'Load generator at its rate', status: 429 },
            'application/problem+json',
          )
        : placed(3),
    )
    const ops = useOperationsStore()
    ops.startLoad({ ...settings, seconds: 60 })
    await vi.advanceTimersByTimeAsync(2_500)
    ops.stopLoad()
    await vi.advanceTimersByTimeAsync(5_000)
    expect(batches.map((b) => b.second)).toEqual([0, 1, 2])
    expect(ops.run).toMatchObject({ placed: 6, running: false })
  })
})
