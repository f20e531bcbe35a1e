// The cart: what the customer means to order. Prices shown here are the catalog's at
// the time; the gateway prices the order itself.
import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import type { Product } from '@/api/client'

export interface CartLine {
  sku: string
  name: string
  price: number
  currency: string
  quantity: number
}

const KEY = 'saga.cart'

export const useCartStore = defineStore('cart', () => {
  const lines = ref<CartLine[]>(JSON.parse(localStorage.getItem(KEY) ?? '[]'))
  watch(lines, (value) => localStorage.setItem(KEY, JSON.stringify(value)), { deep: true })

  const count = computed(() => lines.value.reduce((n, l) => n + l.quantity, 0))
  const total = computed(() => lines.value.reduce((sum, l) => sum + l.quantity * l.price, 0))
  const currency = computed(() => lines.value[0]?.currency ?? 'EUR')

  function add(product: Product, quantity = 1) {
    const line = lines.value.find((l) => l.sku === product.sku)
    if (line) line.quantity = Math.min(100, line.quantity + quantity)
    else
      lines.value.push({
        sku: product.sku,
        name: product.name,
        price: product.price,
        currency: product.currency,
        quantity: Math.min(100, quantity),
      })
  }

  function setQuantity(sku: string, quantity: number) {
    if (quantity <= 0) lines.value = lines.value.filter((l) => l.sku !== sku)
    else {
      const line = lines.value.find((l) => l.sku === sku)
      if (line) line.quantity = Math.min(100, Math.floor(quantity))
    }
  }

  function clear() {
    lines.value = []
  }

  return { lines, count, total, currency, add, setQuantity, clear }
})
