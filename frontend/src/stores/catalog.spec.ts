import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// The API at the page's origin, as when vite or nginx proxies /v1 (jsdom's Request
// needs absolute URLs).
vi.hoisted(() => vi.stubEnv('VITE_API_BASE', 'http://localhost:3000'))

import { ApiError } from '@/api/client'
import { PRODUCTS_PER_READ, useCatalogStore } from './catalog'
import { mug, tea } from './products.fixture'

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

/** A fake gateway: it answers the product reads with `answers`, in turn, and records
 * the URL of each. */
function gateway(...answers: Response[]) {
  const urls: URL[] = []
  const held = new Map<number, Promise<void>>()
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      const read = urls.push(new URL(request.url)) - 1
      await held.get(read)
      return answers[read]
    }),
  )
  return {
    urls,
    /** Holds back the answer to read `n` (from 0) until the function returned is called. */
    hold(n: number): () => void {
      let release!: () => void
      held.set(n, new Promise<void>((resolve) => (release = resolve)))
      return release
    },
  }
}

describe('catalog store', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.restoreAllMocks()
  })

  it('reads the first page of the product list and replaces what it held', async () => {
    const server = gateway(json(200, { items: [mug, tea] }), json(200, { items: [tea] }))
    const catalog = useCatalogStore()
    expect(catalog.products).toEqual([])
    await catalog.load()
    expect(server.urls[0].pathname).toBe('/v1/products')
    expect(server.urls[0].searchParams.get('limit')).toBe(String(PRODUCTS_PER_READ))
    expect(catalog.products.map((p) => p.sku)).toEqual(['MUG', 'TEA'])
    await catalog.load()
    expect(catalog.products.map((p) => p.sku)).toEqual(['TEA'])
  })

  it('throws the problem of a failed read and keeps the list it had', async () => {
    const unavailable = { type: '/problems/unavailable', status: 503, detail: 'Catalog unavailable.' }
    gateway(json(200, { items: [mug] }), json(503, unavailable))
    const catalog = useCatalogStore()
    await catalog.load()
    const failure = catalog.load()
    await expect(failure).rejects.toBeInstanceOf(ApiError)
    await expect(failure).rejects.toThrow('Catalog unavailable.')
    expect(catalog.products.map((p) => p.sku)).toEqual(['MUG'])
  })

  it('keeps the answer to the latest read when an earlier one comes back after it', async () => {
    const server = gateway(json(200, { items: [mug] }), json(200, { items: [mug, tea] }))
    const releaseEarlier = server.hold(0)
    const catalog = useCatalogStore()
    const earlier = catalog.load()
    await catalog.load()
    expect(catalog.products.map((p) => p.sku)).toEqual(['MUG', 'TEA'])
    releaseEarlier()
    await earlier
    expect(server.urls).toHaveLength(2)
    expect(catalog.products.map((p) => p.sku)).toEqual(['MUG', 'TEA'])
  })
})
