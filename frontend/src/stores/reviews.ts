// The review queue: large orders waiting for a reviewer, and the reviewer's decisions,
// each answered by the saga itself (its status, or why the decision cannot apply).
import { defineStore } from 'pinia'
import { ref } from 'vue'
import { api, describe, unwrap, type ReviewItem } from '@/api/client'

/** A decision on one order and what it came to: the saga's answer in words. */
export interface Decided {
  item: ReviewItem
  ok: boolean
  message: string
}

export const useReviewsStore = defineStore('reviews', () => {
  const queue = ref<ReviewItem[]>([])
  // This session's decisions, the latest first: the queue no longer lists their orders.
  const decided = ref<Decided[]>([])

  async function load() {
    queue.value = (await unwrap(api.GET('/v1/admin/reviews'))).items
  }

  async function decide(item: ReviewItem, action: 'approve' | 'reject', reason?: string) {
    const path = { order_id: item.order_id }
    let outcome: Decided
    try {
      if (action === 'approve') await unwrap(api.POST('/v1/admin/reviews/{order_id}/approve', { params: { path } }))
      else await unwrap(api.POST('/v1/admin/reviews/{order_id}/reject', { params: { path }, body: { reason } }))
      const message = action === 'approve' ? 'Approved: it goes on to the payment.' : 'Rejected: it is cancelled.'
      outcome = { item, ok: true, message }
    } catch (problem) {
      outcome = { item, ok: false, message: describe(problem) }
    }
    decided.value = [outcome, ...decided.value.filter((d) => d.item.order_id !== item.order_id)]
    await load()
  }

  return { queue, decided, load, decide }
})
