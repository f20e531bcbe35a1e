import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/client'
import { useRequest } from './useRequest'

/** A call that the test settles by hand. */
function pendingCall() {
  let resolve!: () => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { action: () => promise, resolve, reject }
}

const notFound = new ApiError(404, { type: '/problems/not-found', status: 404, detail: 'No such order.' })

describe('useRequest', () => {
  it('is busy while the call is under way, and only then', async () => {
    const { busy, error, run } = useRequest()
    expect(busy.value).toBe(false)
    const call = pendingCall()
    const running = run(call.action)
    expect(busy.value).toBe(true)
    call.resolve()
    await running
    expect(busy.value).toBe(false)
    expect(error.value).toBeNull()
  })

  it('keeps the problem of a failed call in words for the user, and stops being busy', async () => {
    const { busy, error, run } = useRequest()
    await run(() => Promise.reject(notFound))
    expect(error.value).toBe('No such order.')
    expect(busy.value).toBe(false)
    await run(() => Promise.reject(new TypeError('Failed to fetch')))
    expect(error.value).toBe('The shop cannot be reached. Check your connection.')
  })

  it('clears the problem as the next call starts, and leaves it cleared when that call succeeds', async () => {
    const { error, run } = useRequest()
    await run(() => Promise.reject(notFound))
    expect(error.value).toBe('No such order.')
    const retry = pendingCall()
    const retrying = run(retry.action)
    expect(error.value).toBeNull()
    retry.resolve()
    await retrying
    expect(error.value).toBeNull()
  })

  it('starts busy when asked, for a view that loads as it mounts', async () => {
    const { busy, run } = useRequest({ initiallyBusy: true })
    expect(busy.value).toBe(true)
    await run(() => Promise.resolve())
    expect(busy.value).toBe(false)
  })

  it('stays busy until the last of overlapping calls ends', async () => {
    const { busy, error, run } = useRequest()
    const first = pendingCall()
    const second = pendingCall()
    const runs = [run(first.action), run(second.action)]
    first.reject(notFound)
    await runs[0]
    expect(busy.value).toBe(true)
    expect(error.value).toBe('No such order.')
    second.resolve()
    await runs[1]
    expect(busy.value).toBe(false)
  })
})
