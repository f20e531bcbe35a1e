// The admin's failure switchboard driving the saga: inventory down, retries and an open
// breaker visible, inventory back, the order completes.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { approveInReview, launch, newCustomer, order, screenshot, signIn, statusBecomes, step } from './support.mjs'

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

  // A large order: its stock is reserved, then it waits for review.
  const customer = await newCustomer(browser)
  await order(customer, 'Espresso machine', 'Test card: approved')
  await customer.getByRole('region', { name: 'In review' }).waitFor({ timeout: 60_000 })

  // The inventory goes down before the reviewer approves: confirming cannot commit.
  await setMode(admin, 'inventory', 'down')
  try {
    const reviewer = await signIn(browser, 'admin@example.com', 'admin-password')
    await approveInReview(reviewer, customer)
    await reviewer.close()
    // The timeline shows the retries as they happen: attempts counting up, the error.
    const retrying = step(customer, 'confirm_order').and(customer.locator('[data-status=retrying]'))
    await retrying.filter({ hasText: /[2-9] attempts/ }).waitFor({ timeout: 60_000 })
    assert.match((await retrying.textContent()) ?? '', /Last error: .*inventory/i)

    await admin
      .locator('[data-breaker=inventory] [data-testid=breaker-state]', { hasText: /^open$/ })
      .waitFor({ timeout: 60_000 })
    await screenshot(admin, 'admin-breaker-open')
    await screenshot(customer, 'order-retrying')
  } finally {
    await setMode(admin, 'inventory', 'off')
  }
  await statusBecomes(customer, 'COMPLETED')
  await admin
    .locator('[data-breaker=inventory] [data-testid=breaker-state]', { hasText: /^closed$/ })
    .waitFor({ timeout: 60_000 })
  await admin.close()
  await customer.close()
})

test('the admin pages fit a 390 px phone screen, and loading the app logs no error', async () => {
  const problems = []
  const admin = await signIn(browser, 'admin@example.com', 'admin-password', { viewport: { width: 390, height: 844 } })
  admin.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text())
  })
  admin.on('response', (response) => {
    if (response.status() === 404) problems.push(`404 ${response.url()}`)
  })
  await admin.reload()
  await admin.getByRole('heading', { name: 'Catalog' }).waitFor()
  for (const [link, heading] of [
    ['Admin', 'Failure switchboard'],
    ['Reviews', 'Review queue'],
    ['Operations', 'Load generator'],
  ]) {
    await admin.getByRole('link', { name: link }).first().click()
    await admin.getByRole('heading', { name: heading }).waitFor()
    const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    assert.ok(overflow <= 0, `${heading}: ${overflow} px wider than the screen`)
  }
  await screenshot(admin, 'admin-phone')
  assert.deepEqual(problems, [])
  await admin.close()
})
