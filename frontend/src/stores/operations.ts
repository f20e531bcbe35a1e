// The operations page's state: the gateway's numbers as last read, the samples the page
// keeps of what exists only as "now" (kept here, so that they survive a visit to
// another page), and the load generator's run. A run is the page sending one bounded
// batch a second for the run's length: the gateway keeps nothing running between
// requests, so a run works the same on Lambda, and it ends when the page stops asking.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, describe, unwrap, type LoadBatchResult, type OperationsStats } from '@/api/client'
import { addSample, newRunId, type LoadSettings, type Sample } from '@/operations'

/** The minutes the charts of ended sagas cover. */
export const WINDOW_MINUTES = 15

export interface LoadRun {
  id: string
  /** When it started (Unix seconds). */
  startedAt: number
  settings: LoadSettings
  /** Batches sent so far. */
  sent: number
  placed: number
  refused: number
  rateLimited: number
  failed: number
  running: boolean
  /** The last problem a batch met, in words. */
  problem: string | null
}

export const useOperationsStore = defineStore('operations', () => {
  const stats = ref<OperationsStats | null>(null)
  const history = ref<Sample[]>([])
  const error = ref<string | null>(null)
  const run = ref<LoadRun | null>(null)
  let timer: ReturnType<typeof setTimeout> | undefined
  let latestRead = 0

  /** Reads the numbers again; a problem is kept in `error`, the last numbers kept. */
  async function refresh() {
    const read = ++latestRead
    try {
      const fresh = await unwrap(api.GET('/v1/admin/operations', { params: { query: { minutes: WINDOW_MINUTES } } }))
      if (read !== latestRead) return
      stats.value = fresh
      history.value = addSample(history.value, fresh)
      error.value = null
    } catch (problem) {
      if (read === latestRead) error.value = describe(problem)
    }
  }

  function tally(current: LoadRun, result: LoadBatchResult) {
    current.placed += result.placed
    current.refused += result.refused
    current.rateLimited += result.rate_limited
    current.failed += result.failed
  }

  /** Starts a run: batch `second` is due `second` seconds after the start. */
  function startLoad(settings: LoadSettings) {
    stopLoad()
    const current: LoadRun = {
      id: newRunId(),
      startedAt: Math.floor(Date.now() / 1000),
      settings: { ...settings, cards: { ...settings.cards } },
      sent: 0,
      placed: 0,
      refused: 0,
      rateLimited: 0,
      failed: 0,
      running: true,
      problem: null,
    }
    run.value = current
    const started = Date.now()
    const send = async (second: number) => {
      if (run.value?.id !== current.id || !run.value.running) return
      if (second >= current.settings.seconds) {
        run.value.running = false
        return
      }
      // Scheduled first, so that a slow batch does not slow the run down.
      timer = setTimeout(() => void send(second + 1), Math.max(0, started + (second + 1) * 1000 - Date.now()))
      try {
        const result = await unwrap(
          api.POST('/v1/admin/operations/load', {
            body: {
              run: current.id,
              second,
              orders: current.settings.rate,
              sku: current.settings.sku,
              cards: current.settings.cards,
            },
          }),
        )
        if (run.value?.id === current.id) {
          run.value.sent += 1
          tally(run.value, result)
        }
      } catch (problem) {
        if (run.value?.id !== current.id) return
        run.value.sent += 1
        run.value.problem = describe(problem)
        // A refusal of the run itself (off, invalid) would be the same every second.
        const status = (problem as { status?: number }).status
        if (status !== undefined && status !== 429 && status < 500) stopLoad()
      }
    }
    void send(0)
  }

  function stopLoad() {
    clearTimeout(timer)
    if (run.value) run.value.running = false
  }

  return { stats, history, error, run, refresh, startLoad, stopLoad }
})
