import { describe as suite, expect, it } from 'vitest'
import { ApiError, describe } from './client'

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
})
