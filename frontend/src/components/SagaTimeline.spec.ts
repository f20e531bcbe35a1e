import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import type { StepRecord } from '@/api/client'
import SagaTimeline from './SagaTimeline.vue'

describe('SagaTimeline', () => {
  it('shows each step with its status, attempts and last error, compensations marked', () => {
    const steps = [
      { name: 'charge_payment', status: 'retrying', attempts: 2, last_error: 'payment failed: 503' },
      { name: 'release_inventory', status: 'completed', attempts: 1 },
    ] as StepRecord[]
    const wrapper = mount(SagaTimeline, { props: { steps } })
    const items = wrapper.findAll('li')
    expect(items).toHaveLength(2)
    expect(items[0].attributes('data-status')).toBe('retrying')
    expect(items[0].text()).toContain('Charge payment')
    expect(items[0].text()).toContain('2 attempts')
    expect(items[0].text()).toContain('Last error: payment failed: 503')
    expect(items[1].classes()).toContain('step--compensation')
    expect(items[1].text()).not.toContain('attempts')
  })

  it('names the reviewer who decided a review', () => {
    const steps = [
      {
        name: 'await_approval',
        status: 'completed',
        attempts: 0,
        finished_at: '2026-12-04T13:00:00Z',
        decided_by: { id: 'staff-1', role: 'admin' },
      },
      { name: 'charge_payment', status: 'completed', attempts: 1 },
    ] as StepRecord[]
    const wrapper = mount(SagaTimeline, { props: { steps } })
    const items = wrapper.findAll('li')
    expect(items[0].text()).toContain('decided by staff (staff-1)')
    expect(items[1].text()).not.toContain('decided by')
  })
})
