// The operations page's data shaping, kept pure for its tests: the gateway's numbers
// (`GET /v1/admin/operations`) turned into uPlot's aligned columns, the samples the page
// keeps of what only exists as "now" (breakers, the task queue, retries of running
// sagas), and the load generator's settings checked before a run starts.
import type { Breaker, OperationsStats, StepName } from '@/api/client'

/** uPlot's data: the x values (Unix seconds), then one column per series. */
export type Columns = [number[], ...(number | null)[][]]

type Minute = OperationsStats['minutes'][number]
type OutcomeKey = Exclude<keyof Minute, 'start' | 'p50_ms' | 'p95_ms'>

/** The outcomes charted, in the order they are stacked, with their colours. */
export const OUTCOMES: readonly { key: OutcomeKey; label: string; color: string }[] = [
  { key: 'completed', label: 'Completed', color: '#2e7d32' },
  { key: 'payment_declined', label: 'Compensated: declined', color: '#c62828' },
  { key: 'out_of_stock', label: 'Compensated: out of stock', color: '#ef6c00' },
  { key: 'step_failed', label: 'Compensated: step failed', color: '#6a1b9a' },
  { key: 'decided', label: 'Compensated: cancelled or rejected', color: '#1565c0' },
  { key: 'refused', label: 'Compensated: other refusal', color: '#795548' },
  { key: 'ended_otherwise', label: 'Ended by Temporal (terminated, timed out)', color: '#9e9e9e' },
]

export const COMPENSATIONS = OUTCOMES.filter((o) => o.key !== 'completed' && o.key !== 'ended_otherwise')

function seconds(rfc3339: string): number {
  return Math.floor(Date.parse(rfc3339) / 1000)
}

/** Orders per minute by outcome: one column per outcome of {@link OUTCOMES}. */
export function outcomeColumns(stats: OperationsStats): Columns {
  const x = stats.minutes.map((m) => seconds(m.start))
  return [x, ...OUTCOMES.map((o) => stats.minutes.map((m) => m[o.key]))]
}

/** Saga durations per minute, p50 and p95, in seconds; a gap where no saga ended. */
export function durationColumns(stats: OperationsStats): Columns {
  const x = stats.minutes.map((m) => seconds(m.start))
  const s = (ms: number | null | undefined) => (ms == null ? null : ms / 1000)
  return [x, stats.minutes.map((m) => s(m.p50_ms)), stats.minutes.map((m) => s(m.p95_ms))]
}

/** The totals of the minutes from the one holding `since` (Unix seconds; the whole
 * window by default): completed, and compensated whatever the cause. */
export function totals(stats: OperationsStats, since = 0): { completed: number; compensated: number } {
  let completed = 0
  let compensated = 0
  const first = Math.floor(since / 60) * 60
  for (const m of stats.minutes) {
    if (seconds(m.start) < first) continue
    completed += m.completed
    for (const c of COMPENSATIONS) compensated += m[c.key]
  }
  return { completed, compensated }
}

/** A breaker's state as a level to chart: higher is less healthy. */
export const BREAKER_LEVEL: Record<Breaker['state'], number> = { closed: 0, half_open: 1, open: 2 }

/** What the page saw at one poll of the things that exist only as "now". */
export interface Sample {
  /** Unix seconds. */
  at: number
  breakers: Record<string, number>
  retries: Partial<Record<StepName, number>>
  workflowBacklog: number
  activityBacklog: number
  workflowPollers: number
  activityPollers: number
}

/** How long the page keeps its samples (seconds). */
export const HISTORY_SECONDS = 15 * 60

/** `history` with the sample of `stats` added, those older than `keep` seconds dropped. */
export function addSample(history: Sample[], stats: OperationsStats, keep = HISTORY_SECONDS): Sample[] {
  const at = seconds(stats.at)
  const sample: Sample = {
    at,
    breakers: Object.fromEntries(stats.breakers.map((b) => [b.service, BREAKER_LEVEL[b.state]])),
    retries: Object.fromEntries(stats.retries.map((r) => [r.step, r.retries])),
    workflowBacklog: stats.task_queue.workflow.backlog,
    activityBacklog: stats.task_queue.activity.backlog,
    workflowPollers: stats.task_queue.workflow.pollers,
    activityPollers: stats.task_queue.activity.pollers,
  }
  return [...history.filter((s) => s.at > at - keep && s.at < at), sample]
}

/** The names of `key` seen in any sample, sorted: the series of a chart. */
export function seen(history: Sample[], key: 'breakers' | 'retries'): string[] {
  const names = new Set<string>()
  for (const s of history) for (const name of Object.keys(s[key])) names.add(name)
  return [...names].sort()
}

/** Breaker levels over time, one column per service of `services`. */
export function breakerColumns(history: Sample[], services: string[]): Columns {
  return [history.map((s) => s.at), ...services.map((name) => history.map((s) => s.breakers[name] ?? null))]
}

/** Retries of the running sagas over time, one column per step of `steps` (0 when none). */
export function retryColumns(history: Sample[], steps: string[]): Columns {
  return [history.map((s) => s.at), ...steps.map((step) => history.map((s) => s.retries[step as StepName] ?? 0))]
}

/** The task queue over time: workflow and activity backlog, then their pollers. */
export function queueColumns(history: Sample[]): Columns {
  return [
    history.map((s) => s.at),
    history.map((s) => s.workflowBacklog),
    history.map((s) => s.activityBacklog),
    history.map((s) => s.workflowPollers),
    history.map((s) => s.activityPollers),
  ]
}

/** The most unhealthy level each service reached in `history`. */
export function worstBreakers(history: Sample[]): Record<string, number> {
  const worst: Record<string, number> = {}
  for (const s of history) {
    for (const [service, level] of Object.entries(s.breakers)) worst[service] = Math.max(worst[service] ?? 0, level)
  }
  return worst
}

/** The load generator's bounds, as the gateway enforces them. */
export const LOAD_LIMITS = { maxRate: 10, maxSeconds: 60, maxWeight: 100 } as const

export interface LoadSettings {
  /** Orders a second. */
  rate: number
  seconds: number
  sku: string
  /** Each test card's weight in the mix. */
  cards: Record<string, number>
}

/** Why `settings` cannot run, in words, or null. The gateway checks again. */
export function loadProblem(settings: LoadSettings): string | null {
  const { maxRate, maxSeconds, maxWeight } = LOAD_LIMITS
  if (!Number.isInteger(settings.rate) || settings.rate < 1 || settings.rate > maxRate)
    return `The rate is 1 to ${maxRate} orders a second.`
  if (!Number.isInteger(settings.seconds) || settings.seconds < 1 || settings.seconds > maxSeconds)
    return `A run lasts 1 to ${maxSeconds} seconds.`
  if (!settings.sku) return 'Choose a product.'
  const weights = Object.values(settings.cards)
  if (weights.some((w) => !Number.isInteger(w) || w < 0 || w > maxWeight))
    return `Each card's weight is 0 to ${maxWeight}.`
  if (!weights.some((w) => w > 0)) return 'Give at least one card a weight above 0.'
  return null
}

/** A new run's id: the gateway names its orders after it, so it must not repeat. */
export function newRunId(now = Date.now(), random = Math.random()): string {
  return `${now.toString(36)}-${Math.floor(random * 36 ** 4).toString(36)}`
}
