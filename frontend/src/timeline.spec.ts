import { describe, expect, it } from 'vitest'
import type { Notification, OrderDetail } from '@/api/client'
import { stepsFromEvents, timelineOf } from './timeline'

let id = 0
function step(step: string, status: string, extra: Record<string, unknown> = {}, orderId = 'o-1'): Notification {
  id += 1
  return {
    id: String(id),
    kind: 'order.step',
    title: '',
    body: '',
    order_id: orderId,
    data: { step, status, attempts: 1, ...extra },
    created_at: `2026-01-01T00:00:0${id % 10}.000Z`,
  }
}

describe('timeline from events', () => {
  it('rebuilds a declined order with its compensations, in order', () => {
    const events = [
      step('create_order', 'completed'),
      step('reserve_inventory', 'completed'),
      step('charge_payment', 'failed', { error: 'card declined' }),
      step('release_inventory', 'completed'),
      step('create_order', 'completed', {}, 'another-order'),
      step('cancel_order', 'completed'),
      { ...step('', ''), kind: 'order.cancelled' as const, data: {} },
    ]
    const steps = stepsFromEvents(events, 'o-1')
    expect(steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'create_order:completed',
      'reserve_inventory:completed',
      'charge_payment:failed',
      'release_inventory:completed',
      'cancel_order:completed',
      'notify_failure:completed',
    ])
    expect(steps[2].last_error).toBe('card declined')
  })

  it('rebuilds a finished order from the steps its final notification carries', () => {
    const final: Notification = {
      ...step('', ''),
      kind: 'order.completed',
      data: {
        steps: [
          { name: 'create_order', status: 'completed', attempts: 1 },
          { name: 'reserve_inventory', status: 'completed', attempts: 3 },
          { name: 'charge_payment', status: 'completed', attempts: 1 },
          { name: 'confirm_order', status: 'completed', attempts: 1 },
        ],
      },
    }
    const retry = step('reserve_inventory', 'retrying', { attempts: 2, error: 'inventory is unavailable' })
    const steps = stepsFromEvents([retry, final], 'o-1')
    expect(steps.map((s) => `${s.name}:${s.status}`)).toEqual([
      'create_order:completed',
      'reserve_inventory:completed',
      'charge_payment:completed',
      'confirm_order:completed',
      'notify_customer:completed',
    ])
    expect(steps[1]).toMatchObject({ attempts: 3, last_error: 'inventory is unavailable' })
  })

  it('keeps the attempts and error of retries when the step later completes', () => {
    const steps = stepsFromEvents(
      [
        step('charge_payment', 'retrying', { attempts: 1, error: 'provider unavailable' }),
        step('charge_payment', 'retrying', { attempts: 2, error: 'provider unavailable' }),
        step('charge_payment', 'completed', { attempts: 3 }),
      ],
      'o-1',
    )
    expect(steps).toHaveLength(1)
    expect(steps[0]).toMatchObject({ status: 'completed', attempts: 3, last_error: 'provider unavailable' })
  })

  it('prefers the live timeline while the saga runs', () => {
    const detail = {
      order_id: 'o-1',
      status: 'RESERVED',
      saga: {
        order_id: 'o-1',
        customer_id: 'c',
        phase: 'RUNNING',
        steps: [
          { name: 'create_order', status: 'completed', attempts: 1 },
          { name: 'charge_payment', status: 'pending', attempts: 0 },
        ],
      },
    } as unknown as OrderDetail
    expect(timelineOf(detail, [step('create_order', 'failed')], 'o-1').map((s) => s.status)).toEqual(['completed'])
  })
})
