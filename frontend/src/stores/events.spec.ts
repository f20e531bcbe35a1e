import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// The API at the page's origin, as when vite or nginx proxies /v1 (jsdom's Request
// needs absolute URLs).
vi.hoisted(() => vi.stubEnv('VITE_API_BASE', 'http://localhost:3000'))

import { useAuthStore } from './auth'
import { backoff, eventsUrl, LOGGED_OUT, TOKEN_EXPIRED, useEventsStore } from './events'
import { useNotificationsStore } from './notifications'
import { notification } from './testing'

describe('event connection URL', () => {
  it('carries the ticket and resumes after the last id, over ws or wss as the page', () => {
    const http = { protocol: 'http:', host: 'localhost:5173' } as Location
    expect(eventsUrl('', '', http, 'tk', 7)).toBe('ws://localhost:5173/v1/events?ticket=tk&after=7')
    const https = { protocol: 'https:', host: 'shop.example.com' } as Location
    expect(eventsUrl('', '', https, 'tk', 0)).toBe('wss://shop.example.com/v1/events?ticket=tk&after=0')
    expect(eventsUrl('', 'https://api.example.com', http, 't', 1)).toBe(
      'wss://api.example.com/v1/events?ticket=t&after=1',
    )
  })

  it('uses the WebSocket API of the deployment when one is configured', () => {
    const https = { protocol: 'https:', host: 'shop.example.com' } as Location
    const aws = 'wss://abc123.execute-api.eu-west-1.amazonaws.com/live'
    expect(eventsUrl(aws, 'https://api.example.com', https, 'tk', 3)).toBe(
      'wss://abc123.execute-api.eu-west-1.amazonaws.com/live?ticket=tk&after=3',
    )
  })

  it('backs off from half a second to ten', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(backoff)).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000])
  })
})

/** A WebSocket that the test opens and closes by hand. */
class FakeSocket {
  static all: FakeSocket[] = []
  onopen: (() => void) | null = null
  onclose: ((event: { code: number }) => void) | null = null
  onmessage: ((event: { data: string }) => void) | null = null
  sent: string[] = []
  closed = false
  constructor(readonly url: string) {
    FakeSocket.all.push(this)
  }
  send(data: string) {
    this.sent.push(data)
  }
  close() {
    this.closed = true
  }
  /** The server accepts the socket. */
  open() {
    this.onopen?.()
  }
  /** The server closes it with `code`. */
  end(code: number) {
    this.onclose?.({ code })
  }
  static last() {
    return FakeSocket.all[FakeSocket.all.length - 1]
  }
}

/** A fake gateway: numbered tickets and access tokens, each ticket request recorded. */
function gateway() {
  let tickets = 0
  let tokens = 1
  const ticketRequests: (string | null)[] = []
  const refreshes: string[] = []
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init)
      const path = new URL(request.url).pathname
      const json = (body: unknown) =>
        new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } })
      if (path === '/v1/events/ticket') {
        ticketRequests.push(request.headers.get('authorization'))
        return json({ ticket: `ticket-${++tickets}`, expires_in: 30 })
      }
      if (path === '/v1/auth/refresh') {
        refreshes.push(await request.text())
        return json({ access_token: `access-${++tokens}`, token_type: 'Bearer', expires_in: 900 })
      }
      return new Response(null, { status: 404 })
    }),
  )
  return { ticketRequests, refreshes }
}

describe('event connection', () => {
  beforeEach(() => {
    FakeSocket.all = []
    vi.stubGlobal('WebSocket', FakeSocket)
    setActivePinia(createPinia())
    useAuthStore().$patch({ accessToken: 'access-1' })
  })
  afterEach(() => {
    useEventsStore().disconnect()
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('opens the socket with a fresh ticket, never with the access token', async () => {
    const server = gateway()
    const events = useEventsStore()
    useNotificationsStore().receive(notification(5))
    await events.connect()
    expect(server.ticketRequests).toEqual(['Bearer access-1'])
    const url = new URL(FakeSocket.last().url)
    expect(url.searchParams.get('ticket')).toBe('ticket-1')
    expect(url.searchParams.get('after')).toBe('5')
    expect(url.searchParams.has('access_token')).toBe(false)
    expect(url.toString()).not.toContain('access-1')
    FakeSocket.last().open()
    expect(events.live).toBe(true)
    expect(FakeSocket.last().sent).toEqual(['{"after":"5"}'])
  })

  it('on 4401 refreshes the token, gets a new ticket and reconnects from the last id', async () => {
    const server = gateway()
    const events = useEventsStore()
    const feed = useNotificationsStore()
    await events.connect()
    const first = FakeSocket.last()
    first.open()
    first.onmessage?.({ data: JSON.stringify(notification(1)) })
    first.onmessage?.({ data: JSON.stringify(notification(2)) })
    expect(feed.lastId).toBe(2)

    first.end(TOKEN_EXPIRED)
    expect(events.live).toBe(false)
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(2))
    expect(server.refreshes).toEqual([''])
    expect(server.ticketRequests).toEqual(['Bearer access-1', 'Bearer access-2'])
    const url = new URL(FakeSocket.last().url)
    expect(url.searchParams.get('ticket')).toBe('ticket-2')
    expect(url.searchParams.get('after')).toBe('2')
    FakeSocket.last().open()
    expect(events.live).toBe(true)
  })

  it('on 4401 does not refresh again a token that was renewed meanwhile', async () => {
    const server = gateway()
    const events = useEventsStore()
    await events.connect()
    FakeSocket.last().open()
    useAuthStore().$patch({ accessToken: 'access-9' })
    FakeSocket.last().end(TOKEN_EXPIRED)
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(2))
    expect(server.refreshes).toEqual([])
    expect(server.ticketRequests).toEqual(['Bearer access-1', 'Bearer access-9'])
  })

  it('on 4403 (logged out) stops for good and signs out', async () => {
    vi.useFakeTimers()
    const server = gateway()
    const events = useEventsStore()
    await events.connect()
    FakeSocket.last().open()
    FakeSocket.last().end(LOGGED_OUT)
    await vi.advanceTimersByTimeAsync(60_000)
    expect(FakeSocket.all).toHaveLength(1)
    expect(server.ticketRequests).toHaveLength(1)
    expect(server.refreshes).toEqual([])
    expect(events.live).toBe(false)
    expect(useAuthStore().signedIn).toBe(false)
  })

  it('after a dropped connection reconnects with backoff, a new ticket each time', async () => {
    vi.useFakeTimers()
    const server = gateway()
    const events = useEventsStore()
    await events.connect()
    FakeSocket.last().end(1006)
    await vi.advanceTimersByTimeAsync(backoff(0))
    expect(FakeSocket.all).toHaveLength(2)
    FakeSocket.last().end(1006)
    await vi.advanceTimersByTimeAsync(backoff(1) - 1)
    expect(FakeSocket.all).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1)
    expect(FakeSocket.all).toHaveLength(3)
    expect(FakeSocket.all.map((s) => new URL(s.url).searchParams.get('ticket'))).toEqual([
      'ticket-1',
      'ticket-2',
      'ticket-3',
    ])
    expect(server.refreshes).toEqual([])
  })

  it('does not open a socket when disconnected while the ticket was on its way', async () => {
    gateway()
    const events = useEventsStore()
    const connecting = events.connect()
    events.disconnect()
    await connecting
    expect(FakeSocket.all).toHaveLength(0)
  })
})
