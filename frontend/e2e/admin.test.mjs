// The admin's failure switchboard driving the saga: inventory down, retries and an open
// breaker visible, inventory back, the order completes.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, newCustomer, order, screenshot, signIn, statusBecomes, step } from './support.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

async function setMode(admin, service, mode) {
  await admin.getByLabel(`Failure mode of ${service}`).selectOption(mode)
  await admin.getByRole('button', { name: `Apply to ${service}` }).click()
  await admin.locator(`[data-service=${service}] [data-testid=mode]`, { hasText: `(${mode})` }).waitFor()
}

test('with the inventory down an order shows retries and the open breaker, and completes once it is back', async () => {
  const admin = await signIn(browser, 'admin@example.com', 'admin-password')
  await admin.getByRole('link', { name: 'Admin' }).click()
  await admin.getByRole('heading', { name: 'Failure switchboard' }).waitFor()
  await setMode(admin, 'inventory', 'down')

  const customer = await newCustomer(browser)
  try {
    await order(customer, 'Coffee beans', 'Test card: approved')
    await step(customer, 'reserve_inventory').and(customer.locator('[data-status=retrying]')).waitFor({ timeout: 60_000 })
    const retrying = await step(customer, 'reserve_inventory').textContent()
    assert.match(retrying ?? '', /attempts/)
    assert.match(retrying ?? '', /Last error: .*inventory/i)

    await admin.locator('[data-breaker=inventory] [data-testid=breaker-state]', { hasText: 'open' }).waitFor({ timeout: 60_000 })
    await screenshot(admin, 'admin-breaker-open')
    await screenshot(customer, 'order-retrying')
  } finally {
    await setMode(admin, 'inventory', 'off')
  }
  await statusBecomes(customer, 'COMPLETED')
  await admin.locator('[data-breaker=inventory] [data-testid=breaker-state]', { hasText: 'closed' }).waitFor({ timeout: 60_000 })
  await admin.close()
  await customer.close()
})
