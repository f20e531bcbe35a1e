// Administration: changes to the catalog (the list itself is the catalog store's), the
// failure switchboard, the breakers, and the sagas that need attention.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, describe, unwrap, type AttentionItem, type Breaker, type FailureMode } from '@/api/client'

/** The services whose failure modes the gateway switches: those infra/services.json
 * declares as called by it, in its order (see vite.config.ts). */
export const SERVICES: readonly string[] = __GATEWAY_SERVICES__
export type ServiceName = string

export const useAdminStore = defineStore('admin', () => {
  const modes = ref<Partial<Record<ServiceName, FailureMode>>>({})
  const breakers = ref<Breaker[]>([])
  const breakersError = ref<string | null>(null)
  const attention = ref<AttentionItem[]>([])
  // The saga's answer to the last "retry now", per order.
  const retried = ref<Record<string, string>>({})

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

  async function loadAttention() {
    attention.value = (await unwrap(api.GET('/v1/admin/attention'))).items
  }

  async function retryNow(orderId: string) {
    try {
      await unwrap(api.POST('/v1/admin/attention/{order_id}/retry', { params: { path: { order_id: orderId } } }))
      retried.value[orderId] = 'Retrying now: the breaker was reset.'
    } catch (problem) {
      retried.value[orderId] = describe(problem)
    }
    await loadAttention()
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

  return {
    modes,
    breakers,
    breakersError,
    attention,
    retried,
    loadModes,
    setMode,
    loadBreakers,
    loadAttention,
    retryNow,
    setStock,
    setPrice,
    createProduct,
  }
})
