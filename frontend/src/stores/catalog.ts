// The catalog: the products on sale with their prices and stock, as last read from the
// gateway. The shop and the admin page show it; each reads it afresh as it opens, and
// the admin page again after each change it makes.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, unwrap, type Product } from '@/api/client'

/** One page of the list, the largest the gateway serves. */
export const PRODUCTS_PER_READ = 100

export const useCatalogStore = defineStore('catalog', () => {
  const products = ref<Product[]>([])
  // Reads can overlap (a change saved on the admin page while its first read is under
  // way): the answer to the latest one wins, whatever order the answers come in.
  let latestRead = 0

  /** Reads the list again; a problem is thrown as an ApiError, the list kept as it was. */
  async function load() {
    const read = ++latestRead
    const page = await unwrap(api.GET('/v1/products', { params: { query: { limit: PRODUCTS_PER_READ } } }))
    if (read === latestRead) products.value = page.items
  }

  return { products, load }
})
