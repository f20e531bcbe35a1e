import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { EventKind, Notification } from '@/api/client'
import { useNotificationsStore } from './notifications'

function event(id: number, kind: EventKind = 'order.step'): Notification {
  return {
    id: String(id),
    kind,
    title: `event ${id}`,
    body: '',
    order_id: 'o-1',
    data: {},
    created_at: '2026-01-01T00:00:00.000Z',
  }
}

describe('notification feed', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('keeps events in order and ignores ones already seen after a reconnect', () => {
    const feed = useNotificationsStore()
    const heard: string[] = []
    feed.onEvent((e) => heard.push(e.id))
    ;[1, 2, 3, 2, 3, 4].forEach((id) => feed.receive(event(id)))
    expect(feed.items.map((n) => n.id)).toEqual(['1', '2', '3', '4'])
    expect(heard).toEqual(['1', '2', '3', '4'])
    expect(feed.lastId).toBe(4)
  })

  it('counts what is unread', () => {
    const feed = useNotificationsStore()
    feed.receive(event(1))
    feed.receive({ ...event(2), read_at: '2026-01-01T00:00:01.000Z' })
    expect(feed.unread).toBe(1)
  })
})
