// Display helpers.

export function money(minor: number, currency = 'EUR'): string {
  return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(minor / 100)
}

export function time(iso?: string | null): string {
  if (!iso) return ''
  return new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

/** `charge_payment` → `Charge payment`. */
export function stepTitle(step: string): string {
  const words = step.replace(/_/g, ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** Seconds left until `deadline`, never negative. */
export function secondsLeft(deadline: string, now: number): number {
  return Math.max(0, Math.ceil((Date.parse(deadline) - now) / 1000))
}

/** A wait in words, as long as it could be: `40 s`, `6 min` (minutes rounded up). */
export function waitInWords(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`
}

/** The test cards of the simulated payment provider, for the checkout. */
export const PAYMENT_METHODS = [
  { value: 'card_approve', label: 'Test card: approved', hint: 'The payment goes through at once.' },
  { value: 'card_decline', label: 'Test card: declined', hint: 'The payment is declined; the saga compensates.' },
  {
    value: 'card_transient_2',
    label: 'Test card: fails twice, then approved',
    hint: 'Two transient provider failures, retried with backoff, then success.',
  },
  { value: 'card_slow', label: 'Test card: slow', hint: 'Approved after a few seconds.' },
] as const
