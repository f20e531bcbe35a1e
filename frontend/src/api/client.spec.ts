import { describe as suite, expect, it } from 'vitest'
import { ApiError, describe, unwrap } from './client'

suite('describe', () => {
  it('names the lines an out-of-stock checkout could not have', () => {
    const problem = new ApiError(409, {
      type: '/problems/out-of-stock',
      title: 'Out of stock',
      status: 409,
      detail: 'Reserve inventory: inventory refused: TIN: 3 requested, 2 available',
      shortages: [{ sku: 'TIN', requested: 3, available: 2 }],
    })
    expect(describe(problem)).toBe('Not enough stock: TIN: 3 wanted, 2 in stock. Nothing was charged.')
  })

  it("gives any other problem's detail", () => {
    const problem = new ApiError(409, {
      type: '/problems/decision-refused',
      detail: 'The payment is already being captured.',
    })
    expect(describe(problem)).toBe('The payment is already being captured.')
  })

  it('says how long to wait before trying again after a 429, from its Retry-After', async () => {
    const problem = { type: '/problems/login-throttled', title: 'Too many login attempts', status: 429 }
    const response = new Response(null, { status: 429, headers: { 'retry-after': '361' } })
    const refused = await unwrap(Promise.resolve({ error: problem, response })).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ApiError)
    expect((refused as ApiError).retryAfter).toBe(361)
    expect(describe(refused)).toBe('Too many login attempts: try again in 7 min.')
  })

  it("gives a 429's detail when it has no Retry-After", async () => {
    const problem = { type: '/problems/rate-limited', status: 429, detail: 'Slow down.' }
    const response = new Response(null, { status: 429 })
    const refused = await unwrap(Promise.resolve({ error: problem, response })).catch((e: unknown) => e)
    expect((refused as ApiError).retryAfter).toBeUndefined()
    expect(describe(refused)).toBe('Slow down.')
  })
})
