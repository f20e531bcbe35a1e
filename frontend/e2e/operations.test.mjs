// The operations page: the load generator runs while the payment service is down for
// part of the run; the charts show completions, compensations and the payment breaker
// opening, all read from Temporal and the breaker board through the gateway.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import { launch, screenshot, signIn } from './support.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

async function number(page, testId) {
  return Number(await page.getByTestId(testId).first().textContent())
}

test('a load run through a payment outage shows completions, compensations and the breaker opening', async () => {
  const admin = await signIn(browser, 'admin@example.com', 'admin-password', { viewport: { width: 1280, height: 900 } })

  // A product of the run's own, so that the run takes no stock the other tests count on.
  const sku = `LOAD-${randomUUID().slice(0, 8)}`
  await admin.getByRole('link', { name: 'Admin' }).click()
  await admin.locator('[data-sku=MUG-CLASSIC]').waitFor()
  await admin.getByLabel('SKU').fill(sku)
  await admin.getByLabel('Name').fill(`Load test ${sku}`)
  await admin.getByLabel('Price (cents)').fill('500')
  await admin.getByLabel('Stock', { exact: true }).fill('1000')
  await admin.getByRole('button', { name: 'Add product' }).click()

  // The catalog is cached by the browser for a few seconds (max-age, then
  // stale-while-revalidate): the page is read again until its list has the product.
  await admin.getByRole('link', { name: 'Operations' }).click()
  const option = admin.locator(`select[aria-label=Product] option[value=${sku}]`)
  const deadline = Date.now() + 60_000
  for (;;) {
    await admin.getByRole('heading', { name: 'Load generator' }).waitFor()
    await admin.locator('select[aria-label=Product] option').first().waitFor({ state: 'attached' })
    if ((await option.count()) > 0) break
    assert.ok(Date.now() < deadline, `${sku} never reached the catalog`)
    await admin.waitForTimeout(1000)
    await admin.reload()
  }
  // The first numbers are in.
  await admin.getByTestId('running').waitFor()
  await admin.getByLabel('Orders a second').fill('4')
  await admin.getByLabel('Seconds').fill('12')
  await admin.getByLabel('Product').selectOption(sku)
  await admin.getByLabel('Weight of card_approve').fill('3')
  await admin.getByLabel('Weight of card_decline').fill('1')
  await admin.getByLabel('Weight of card_transient_2').fill('0')
  await admin.getByLabel('Weight of card_slow').fill('0')
  await admin.getByRole('button', { name: 'Start load' }).click()
  const status = admin.getByTestId('load-status')
  await status.waitFor()

  // Payment goes down while the run places orders: the charges fail, the breaker opens.
  await admin.getByLabel('Service to take down').selectOption('payment')
  await admin.locator('[data-testid=load-placed]', { hasText: /^([4-9]|\d{2,})$/ }).waitFor({ timeout: 30_000 })
  await admin.getByRole('button', { name: 'Take payment down' }).click()
  try {
    await admin.getByTestId('outage-mode').filter({ hasText: '(down)' }).waitFor()
    await admin.locator('[data-breaker-worst=payment] strong', { hasText: /^open$/ }).waitFor({ timeout: 60_000 })
  } finally {
    await admin.getByRole('button', { name: 'Bring payment back' }).click()
  }
  await admin.getByTestId('outage-mode').filter({ hasText: '(off)' }).waitFor()

  // The run ends on its own after its 12 batches; every order it placed then ends too,
  // counted from Temporal's visibility in the minutes since the run started.
  await admin.locator('[data-testid=load-status][data-running=false]').waitFor({ timeout: 60_000 })
  const placed = await number(admin, 'load-placed')
  assert.ok(placed >= 40, `the run placed ${placed} of its 48 orders: ${await status.textContent()}`)
  await admin.waitForFunction(
    (placed) => {
      const read = (id) => Number(document.querySelector(`[data-testid=${id}]`)?.textContent ?? 0)
      return read('run-completed') + read('run-compensated') >= placed
    },
    placed,
    { timeout: 120_000 },
  )
  // A quarter of the cards decline: those orders are compensated; the others complete,
  // those caught by the outage once payment is back.
  const completed = await number(admin, 'run-completed')
  const compensated = await number(admin, 'run-compensated')
  assert.ok(completed >= placed / 2, `${completed} completed of ${placed}`)
  assert.ok(compensated >= 1 && compensated <= placed / 2, `${compensated} compensated of ${placed}`)
  // Charts were drawn for every measure.
  assert.equal(await admin.locator('.chart canvas').count(), 5)
  await screenshot(admin, 'operations')
  await admin.close()
})
