// The user's feed: every saga event, in order, with gap-free ids. The WebSocket pushes
// new ones; after a reconnect, the feed resumes from the last id seen.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, unwrap, type Notification } from '@/api/client'

export const useNotificationsStore = defineStore('notifications', () => {
  const items = ref<Notification[]>([])
  const lastId = ref(0)
  const unread = computed(() => items.value.filter((n) => !n.read_at).length)
  const listeners = new Set<(event: Notification) => void>()

  /** Adds events in feed order, ignoring any already seen (a resend after reconnect). */
  function receive(event: Notification) {
    const id = Number(event.id)
    if (id <= lastId.value) return
    lastId.value = id
    items.value.push(event)
    listeners.forEach((listener) => listener(event))
  }

  /** Loads the whole feed after what is known (paged). */
  async function catchUp() {
    for (;;) {
      const page = await unwrap(
        api.GET('/v1/notifications', { params: { query: { after: String(lastId.value), limit: 100 } } }),
      )
      page.items.forEach(receive)
      if (!page.next_after) return
    }
  }

  async function markRead(id: string) {
    const read = await unwrap(api.POST('/v1/notifications/{id}/read', { params: { path: { id } } }))
    const index = items.value.findIndex((n) => n.id === id)
    if (index >= 0) items.value[index] = read
  }

  function onEvent(listener: (event: Notification) => void) {
    listeners.add(listener)
    return () => listeners.delete(listener)
  }

  function reset() {
    items.value = []
    lastId.value = 0
  }

  return { items, lastId, unread, receive, catchUp, markRead, onEvent, reset }
})
