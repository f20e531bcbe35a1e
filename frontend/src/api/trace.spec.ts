import { describe, expect, it } from 'vitest'
import { newTraceparent, traced } from './trace'

describe('traceparent', () => {
  it('is version 00, a 32-hex trace id, a 16-hex span id, sampled', () => {
    expect(newTraceparent()).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  })

  it('starts a new trace on every call', () => {
    const traces = new Set(Array.from({ length: 50 }, () => newTraceparent().split('-')[1]))
    expect(traces.size).toBe(50)
  })

  it('never sends the all-zero ids the spec calls invalid', () => {
    const draws = [new Uint8Array(16), new Uint8Array(16).fill(1), new Uint8Array(8), new Uint8Array(8).fill(2)]
    const header = newTraceparent(() => draws.shift()!)
    expect(header).toBe(`00-${'01'.repeat(16)}-${'02'.repeat(8)}-01`)
  })

  it("keeps a request's own trace", () => {
    const own = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const request = new Request('http://localhost/v1/orders', { headers: { traceparent: own } })
    expect(traced(request).headers.get('traceparent')).toBe(own)
    expect(traced(new Request('http://localhost/v1/orders')).headers.get('traceparent')).toMatch(/^00-/)
  })
})
