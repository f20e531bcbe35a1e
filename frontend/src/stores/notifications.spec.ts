import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { useNotificationsStore } from './notifications'
import { notification } from './testing'

describe('notification feed', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('keeps events in order and ignores ones already seen after a reconnect', () => {
    const feed = useNotificationsStore()
    const heard: string[] = []
    feed.onEvent((e) => heard.push(e.id))
    ;[1, 2, 3, 2, 3, 4].forEach((id) => feed.receive(notification(id)))
    expect(feed.items.map((n) => n.id)).toEqual(['1', '2', '3', '4'])
    expect(heard).toEqual(['1', '2', '3', '4'])
    expect(feed.lastId).toBe(4)
  })

  it('counts what is unread', () => {
    const feed = useNotificationsStore()
    feed.receive(notification(1))
    feed.receive({ ...notification(2), read_at: '2026-01-01T00:00:01.000Z' })
    expect(feed.unread).toBe(1)
  })
})
