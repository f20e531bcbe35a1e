import { describe, expect, it } from 'vitest'
import { money, secondsLeft, stepTitle, waitInWords } from './format'

describe('format', () => {
  it('shows minor units as money', () => {
    expect(money(1250, 'EUR')).toBe('€12.50')
  })

  it('titles steps', () => {
    expect(stepTitle('charge_payment')).toBe('Charge payment')
  })

  it('counts down to a deadline without going negative', () => {
    const now = Date.parse('2026-01-01T00:00:00.000Z')
    expect(secondsLeft('2026-01-01T00:00:10.000Z', now)).toBe(10)
    expect(secondsLeft('2025-12-31T23:59:00.000Z', now)).toBe(0)
  })

  it('says a wait in seconds, or in minutes rounded up', () => {
    expect(waitInWords(1)).toBe('1 s')
    expect(waitInWords(59)).toBe('59 s')
    expect(waitInWords(60)).toBe('1 min')
    expect(waitInWords(361)).toBe('7 min')
  })
})
