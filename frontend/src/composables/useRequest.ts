// One way for a view to call the API: a flag while a call is under way (for "Loading…"
// lines and disabled buttons) and the problem of the last call, in words fit for the
// user, for a `ProblemAlert`.
import { ref } from 'vue'
import { describe } from '@/api/client'

export interface RequestOptions {
  /** Busy before the first call: for a view that loads as it mounts, so that its first
   * render already says it is loading rather than that there is nothing. */
  initiallyBusy?: boolean
}

export function useRequest(options: RequestOptions = {}) {
  const busy = ref(options.initiallyBusy ?? false)
  const error = ref<string | null>(null)
  // Busy until the last of overlapping calls ends, not the first.
  let pending = 0

  /** Runs `action`; its problem, if any, is kept in `error` rather than thrown. The
   * previous problem is cleared as the call starts. */
  async function run(action: () => Promise<unknown>): Promise<void> {
    pending++
    busy.value = true
    error.value = null
    try {
      await action()
    } catch (problem) {
      error.value = describe(problem)
    } finally {
      pending--
      busy.value = pending > 0
    }
  }

  return { busy, error, run }
}
