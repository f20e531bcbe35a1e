import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { useCartStore } from './cart'
import { mug, tea } from './products.fixture'

describe('cart', () => {
  beforeEach(() => {
    localStorage.clear()
    setActivePinia(createPinia())
  })

  it('adds up quantities per product and totals in minor units', () => {
    const cart = useCartStore()
    cart.add(mug)
    cart.add(mug, 2)
    cart.add(tea)
    expect(cart.lines.map((l) => [l.sku, l.quantity])).toEqual([
      ['MUG', 3],
      ['TEA', 1],
    ])
    expect(cart.count).toBe(4)
    expect(cart.total).toBe(3 * 1250 + 890)
  })

  it('caps a line at 100 and drops it at zero', () => {
    const cart = useCartStore()
    cart.add(mug, 150)
    expect(cart.lines[0].quantity).toBe(100)
    cart.setQuantity('MUG', 0)
    expect(cart.lines).toEqual([])
  })

  it('survives a reload through localStorage', async () => {
    useCartStore().add(mug)
    await Promise.resolve()
    setActivePinia(createPinia())
    expect(useCartStore().lines.map((l) => l.sku)).toEqual(['MUG'])
  })
})
