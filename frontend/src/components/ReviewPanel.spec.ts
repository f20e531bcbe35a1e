import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import ReviewPanel from './ReviewPanel.vue'

describe('ReviewPanel', () => {
  afterEach(() => vi.useRealTimers())

  it('counts down to the review deadline and offers the customer no decision', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(Date.parse('2026-01-01T00:00:00.000Z'))
    const wrapper = mount(ReviewPanel, { props: { deadline: '2026-01-01T00:00:30.000Z' } })
    expect(wrapper.get('[data-testid=countdown]').text()).toBe('30 s')
    await vi.advanceTimersByTimeAsync(5000)
    expect(wrapper.get('[data-testid=countdown]').text()).toBe('25 s')
    expect(wrapper.findAll('button')).toHaveLength(0)
  })
})
