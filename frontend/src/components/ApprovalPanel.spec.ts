import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import ApprovalPanel from './ApprovalPanel.vue'

describe('ApprovalPanel', () => {
  afterEach(() => vi.useRealTimers())

  it('counts down to the deadline and emits the decision', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(Date.parse('2026-01-01T00:00:00.000Z'))
    const wrapper = mount(ApprovalPanel, { props: { deadline: '2026-01-01T00:00:30.000Z', busy: false } })
    expect(wrapper.get('[data-testid=countdown]').text()).toBe('30 s')
    await vi.advanceTimersByTimeAsync(5000)
    expect(wrapper.get('[data-testid=countdown]').text()).toBe('25 s')
    await wrapper.get('button').trigger('click')
    expect(wrapper.emitted('approve')).toHaveLength(1)
    await wrapper.findAll('button')[1].trigger('click')
    expect(wrapper.emitted('reject')).toHaveLength(1)
  })
})
