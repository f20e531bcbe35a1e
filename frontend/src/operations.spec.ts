import { describe, expect, it } from 'vitest'
import type { OperationsStats } from '@/api/client'
import {
  addSample,
  breakerColumns,
  durationColumns,
  loadProblem,
  newRunId,
  OUTCOMES,
  outcomeColumns,
  queueColumns,
  retryColumns,
  seen,
  totals,
  worstBreakers,
} from './operations'

function stats(at: string, overrides: Partial<OperationsStats> = {}): OperationsStats {
  return {
    at,
    minutes: [
      {
        start: '2026-12-04T10:00:00.000Z',
        completed: 3,
        payment_declined: 1,
        out_of_stock: 0,
        refused: 0,
        step_failed: 2,
        decided: 0,
        ended_otherwise: 0,
        p50_ms: 1500,
        p95_ms: 4000,
      },
      {
        start: '2026-12-04T10:01:00.000Z',
        completed: 0,
        payment_declined: 0,
        out_of_stock: 1,
        refused: 0,
        step_failed: 0,
        decided: 1,
        ended_otherwise: 1,
      },
    ],
    truncated: false,
    running: 2,
    retries: [{ step: 'charge_payment', retries: 4 }],
    retries_sampled: 2,
    breakers: [
      { service: 'payment', state: 'open', consecutive_failures: 5, times_opened: 1 },
      { service: 'inventory', state: 'closed', consecutive_failures: 0, times_opened: 0 },
    ],
    task_queue: {
      name: 'order-saga',
      workflow: { backlog: 2, backlog_age_ms: 10, add_rate: 1, dispatch_rate: 1, pollers: 3 },
      activity: { backlog: 5, backlog_age_ms: 900, add_rate: 2, dispatch_rate: 1, pollers: 4 },
    },
    ...overrides,
  }
}

const T0 = Date.parse('2026-12-04T10:00:00.000Z') / 1000

describe('the charts of the minutes', () => {
  it('has a column per outcome, aligned on the minutes', () => {
    const [x, ...columns] = outcomeColumns(stats('2026-12-04T10:01:30Z'))
    expect(x).toEqual([T0, T0 + 60])
    expect(columns).toHaveLength(OUTCOMES.length)
    const byKey = Object.fromEntries(OUTCOMES.map((o, i) => [o.key, columns[i]]))
    expect(byKey.completed).toEqual([3, 0])
    expect(byKey.step_failed).toEqual([2, 0])
    expect(byKey.ended_otherwise).toEqual([0, 1])
  })

  it('charts durations in seconds, with a gap where no saga ended', () => {
    expect(durationColumns(stats('2026-12-04T10:01:30Z'))).toEqual([
      [T0, T0 + 60],
      [1.5, null],
      [4, null],
    ])
  })

  it('totals the completed and the compensated of the window', () => {
    // Compensated: declined 1 + step failed 2 + out of stock 1 + decided 1; ended otherwise is neither.
    expect(totals(stats('2026-12-04T10:01:30Z'))).toEqual({ completed: 3, compensated: 5 })
  })

  it('totals the minutes from the one a run started in', () => {
    expect(totals(stats('2026-12-04T10:01:30Z'), T0 + 75)).toEqual({ completed: 0, compensated: 2 })
    expect(totals(stats('2026-12-04T10:01:30Z'), T0 + 59)).toEqual({ completed: 3, compensated: 5 })
  })
})

describe('the samples of what exists only as now', () => {
  it('keeps breakers, retries and the queue per poll, dropping old samples', () => {
    let history = addSample([], stats('2026-12-04T10:00:00Z'))
    history = addSample(
      history,
      stats('2026-12-04T10:00:02Z', {
        breakers: [{ service: 'payment', state: 'closed', consecutive_failures: 0, times_opened: 1 }],
        retries: [],
      }),
    )
    expect(history.map((s) => s.at)).toEqual([T0, T0 + 2])
    expect(breakerColumns(history, ['inventory', 'payment'])).toEqual([
      [T0, T0 + 2],
      [0, null],
      [2, 0],
    ])
    expect(retryColumns(history, ['charge_payment'])).toEqual([
      [T0, T0 + 2],
      [4, 0],
    ])
    expect(queueColumns(history)).toEqual([
      [T0, T0 + 2],
      [2, 2],
      [5, 5],
      [3, 3],
      [4, 4],
    ])
    expect(seen(history, 'breakers')).toEqual(['inventory', 'payment'])
    expect(worstBreakers(history)).toEqual({ payment: 2, inventory: 0 })

    const later = addSample(history, stats('2026-12-04T10:00:30Z'), 20)
    expect(later.map((s) => s.at)).toEqual([T0 + 30])
  })

  it('does not keep a sample read out of order twice', () => {
    const history = addSample([], stats('2026-12-04T10:00:05Z'))
    expect(addSample(history, stats('2026-12-04T10:00:05Z')).map((s) => s.at)).toEqual([T0 + 5])
  })
})

describe('the load generator settings', () => {
  const ok = { rate: 5, seconds: 10, sku: 'MUG-CLASSIC', cards: { card_approve: 8, card_decline: 2 } }

  it('accepts a run within the gateway bounds', () => {
    expect(loadProblem(ok)).toBeNull()
  })

  it('says what is out of bounds', () => {
    expect(loadProblem({ ...ok, rate: 11 })).toMatch(/1 to 10 orders a second/)
    expect(loadProblem({ ...ok, rate: 0.5 })).toMatch(/rate/)
    expect(loadProblem({ ...ok, seconds: 61 })).toMatch(/1 to 60 seconds/)
    expect(loadProblem({ ...ok, sku: '' })).toMatch(/product/)
    expect(loadProblem({ ...ok, cards: { card_approve: 0 } })).toMatch(/at least one card/)
    expect(loadProblem({ ...ok, cards: { card_approve: 101 } })).toMatch(/0 to 100/)
  })

  it('names each run apart, within the gateway id rule', () => {
    const a = newRunId(1_000, 0.1)
    expect(a).toMatch(/^[a-z0-9-]{1,32}$/)
    expect(newRunId(1_000, 0.2)).not.toBe(a)
    expect(newRunId(2_000, 0.1)).not.toBe(a)
  })
})
