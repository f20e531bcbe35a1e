// Products for the stores' unit tests.
import type { Product } from '@/api/client'

export const mug: Product = {
  sku: 'MUG',
  name: 'Mug',
  description: '',
  price: 1250,
  currency: 'EUR',
  available: 5,
  updated_at: '',
}
export const tea: Product = { ...mug, sku: 'TEA', name: 'Tea', price: 890 }
