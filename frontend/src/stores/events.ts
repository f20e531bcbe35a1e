// The live connection: a WebSocket to /v1/events that resumes after the last event id
// seen, reconnecting with backoff; `live` drives the "reconnecting" indicator.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { apiBase, type Notification } from '@/api/client'
import { useAuthStore } from './auth'
import { useNotificationsStore } from './notifications'

/** Close code the gateway uses when the access token expires. */
const TOKEN_EXPIRED = 4401

/**
 * Where the events come from: `VITE_EVENTS_URL` when set (on AWS, the API Gateway
 * WebSocket API's URL, the stack's `WebSocketUrl` output), else the gateway's
 * `/v1/events`.
 */
export function eventsUrl(
  endpoint: string,
  base: string,
  location: Location,
  token: string,
  after: number,
): string {
  const origin = base || `${location.protocol}//${location.host}`
  const url = new URL(endpoint || '/v1/events', origin)
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:'
  url.searchParams.set('access_token', token)
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
  let attempt = 0
  let timer: ReturnType<typeof setTimeout> | null = null
  let wanted = false

  function connect() {
    wanted = true
    const auth = useAuthStore()
    const feed = useNotificationsStore()
    if (!auth.accessToken || socket) return
    const endpoint = import.meta.env.VITE_EVENTS_URL ?? ''
    const ws = new WebSocket(eventsUrl(endpoint, apiBase, window.location, auth.accessToken, feed.lastId))
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
      live.value = false
      socket = null
      if (!wanted) return
      if (close.code === TOKEN_EXPIRED && !(await auth.refresh())) return
      timer = setTimeout(connect, backoff(attempt++))
    }
  }

  function disconnect() {
    wanted = false
    if (timer) clearTimeout(timer)
    socket?.close()
    socket = null
    live.value = false
  }

  return { live, connect, disconnect }
})
