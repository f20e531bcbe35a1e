// The live connection: a WebSocket to /v1/events that resumes after the last event id
// seen, reconnecting with backoff; `live` drives the "reconnecting" indicator.
//
// A socket is opened with a single-use ticket (`POST /v1/events/ticket`, valid 30 s),
// fetched right before each (re)connect: the access token never goes into a URL. The
// gateway closes the socket with 4401 when the access token the ticket was issued
// against expires (then: refresh, new ticket, reconnect from the last id), and with
// 4403 when the user logged out (then: no reconnect, signed out here).
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, apiBase, unwrap, type Notification } from '@/api/client'
import { useAuthStore } from './auth'
import { useNotificationsStore } from './notifications'

/** Close code the gateway uses when the access token expires. */
export const TOKEN_EXPIRED = 4401
/** Close code the gateway uses when the user logged out. */
export const LOGGED_OUT = 4403

/**
 * Where the events come from: `VITE_EVENTS_URL` when set (on AWS, the API Gateway
 * WebSocket API's URL, the stack's `WebSocketUrl` output), else the gateway's
 * `/v1/events`; with the ticket and the last event id seen.
 */
export function eventsUrl(endpoint: string, base: string, location: Location, ticket: string, after: number): string {
  const origin = base || `${location.protocol}//${location.host}`
  const url = new URL(endpoint || '/v1/events', origin)
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:'
  url.searchParams.set('ticket', ticket)
  url.searchParams.set('after', String(after))
  return url.toString()
}

/** Delay before the n-th reconnection attempt: 0.5 s doubling up to 10 s. */
export function backoff(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** attempt)
}

export const useEventsStore = defineStore('events', () => {
  const live = ref(false)
  let socket: WebSocket | null = null
  let opening = false
  let attempt = 0
  let timer: ReturnType<typeof setTimeout> | null = null
  let wanted = false
  /** Bumped by `disconnect`: a connection being opened before it is dropped. */
  let generation = 0

  function schedule(delay: number) {
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      void connect()
    }, delay)
  }

  /** Opens the stream if signed in and not open yet: a new ticket, then the socket. */
  async function connect() {
    wanted = true
    const auth = useAuthStore()
    const feed = useNotificationsStore()
    if (!auth.signedIn || socket || opening) return
    const mine = generation
    opening = true
    let ticket: string
    // The access token the ticket is issued against (a 401 here refreshes it first).
    let token: string | null
    try {
      ticket = (await unwrap(api.POST('/v1/events/ticket'))).ticket
      token = auth.accessToken
    } catch {
      opening = false
      // Signed out meanwhile (the refresh failed): nothing to reconnect; else retry.
      if (mine === generation && wanted && auth.signedIn) schedule(backoff(attempt++))
      return
    }
    opening = false
    if (mine !== generation || !wanted || !auth.signedIn) return
    const endpoint = import.meta.env.VITE_EVENTS_URL ?? ''
    const ws = new WebSocket(eventsUrl(endpoint, apiBase, window.location, ticket, feed.lastId))
    socket = ws
    ws.onopen = () => {
      live.value = true
      attempt = 0
      // API Gateway cannot send during $connect, so there the catch-up is asked for
      // with this message; the local gateway already caught up from the URL's `after`
      // and ignores it. Events seen twice are dropped by id.
      ws.send(JSON.stringify({ after: String(feed.lastId) }))
    }
    ws.onmessage = (message) => feed.receive(JSON.parse(message.data) as Notification)
    ws.onclose = async (close) => {
      if (socket !== ws) return
      live.value = false
      socket = null
      if (!wanted) return
      if (close.code === LOGGED_OUT) {
        // This login was logged out (here, in another tab, or elsewhere): stop.
        wanted = false
        auth.forget()
        return
      }
      if (close.code === TOKEN_EXPIRED) {
        // Renew the token unless that was done meanwhile, then reconnect at once with a
        // new ticket, from the last id. (A refresh refused signs out: no reconnect.)
        if (auth.accessToken === token) await auth.refresh()
        if (mine === generation && wanted && auth.signedIn) schedule(0)
        return
      }
      schedule(backoff(attempt++))
    }
  }

  function disconnect() {
    wanted = false
    generation++
    opening = false
    if (timer) clearTimeout(timer)
    timer = null
    const ws = socket
    socket = null
    ws?.close()
    live.value = false
  }

  return { live, connect, disconnect }
})
