// Administration: changes to the catalog (the list itself is the catalog store's), the
// failure switchboard and the breakers.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, unwrap, type Breaker, type FailureMode } from '@/api/client'

export const SERVICES = ['customer', 'inventory', 'order', 'payment', 'notification'] as const
export type ServiceName = (typeof SERVICES)[number]

export const useAdminStore = defineStore('admin', () => {
  const modes = ref<Partial<Record<ServiceName, FailureMode>>>({})
  const breakers = ref<Breaker[]>([])
  const breakersError = ref<string | null>(null)

  async function loadModes() {
    await Promise.all(
      SERVICES.map(async (service) => {
        modes.value[service] = await unwrap(
          api.GET('/v1/admin/services/{service}/failure-mode', { params: { path: { service } } }),
        )
      }),
    )
  }

  async function setMode(service: ServiceName, mode: FailureMode) {
    modes.value[service] = await unwrap(
      api.PUT('/v1/admin/services/{service}/failure-mode', { params: { path: { service } }, body: mode }),
    )
  }

  async function loadBreakers() {
    try {
      breakers.value = await unwrap(api.GET('/v1/admin/breakers'))
      breakersError.value = null
    } catch (error) {
      breakersError.value = error instanceof Error ? error.message : 'unavailable'
    }
  }

  async function setStock(sku: string, available: number) {
    return unwrap(api.PUT('/v1/admin/products/{sku}/stock', { params: { path: { sku } }, body: { available } }))
  }

  async function setPrice(sku: string, price: number) {
    return unwrap(api.PATCH('/v1/admin/products/{sku}', { params: { path: { sku } }, body: { price } }))
  }

  async function createProduct(product: { sku: string; name: string; price: number; available: number }) {
    return unwrap(api.POST('/v1/admin/products', { body: { ...product, currency: 'EUR', description: '' } }))
  }

  return { modes, breakers, breakersError, loadModes, setMode, loadBreakers, setStock, setPrice, createProduct }
})
