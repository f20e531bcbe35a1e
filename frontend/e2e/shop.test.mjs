// The shop in a real browser: every saga path a customer can meet, followed live.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { UI, approveInReview, launch, newCustomer, order, screenshot, signIn, statusBecomes, step } from './support.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

test("a signed-out visitor's pages log no error, and a customer's pages fit a 390 px phone screen", async () => {
  const phone = { viewport: { width: 390, height: 844 } }
  const visitor = await browser.newPage(phone)
  const problems = []
  visitor.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text())
  })
  for (const [path, heading] of [
    ['/', 'Catalog'],
    ['/login', 'Sign in'],
    ['/register', 'Create an account'],
  ]) {
    await visitor.goto(`${UI}${path}`)
    await visitor.getByRole('heading', { name: heading }).waitFor()
  }
  // A page that needs a session sends the visitor to sign in, quietly too.
  await visitor.goto(`${UI}/orders`)
  await visitor.getByRole('heading', { name: 'Sign in' }).waitFor()
  assert.deepEqual(problems, [])
  await visitor.close()

  const page = await newCustomer(browser, phone)
  const orderId = await order(page, 'Classic mug', 'Test card: approved')
  await statusBecomes(page, 'COMPLETED')
  const fits = async (what) => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    assert.ok(overflow <= 0, `${what}: ${overflow} px wider than the screen`)
  }
  await fits('the order')
  for (const [link, heading] of [
    ['Orders', 'Your orders'],
    ['Catalog', 'Catalog'],
    ['Account', 'Account'],
  ]) {
    await page.getByRole('link', { name: link, exact: true }).first().click()
    await page.getByRole('heading', { name: heading }).first().waitFor()
    if (link === 'Orders') await page.locator(`[data-order="${orderId}"]`).waitFor()
    await fits(heading)
  }
  await page.goto(`${UI}/notifications`)
  await page.getByRole('heading', { name: 'Notifications' }).waitFor()
  await fits('Notifications')
  await page.goto(`${UI}/orders`)
  await page.locator(`[data-order="${orderId}"]`).waitFor()
  await screenshot(page, 'orders-phone')
  await page.close()
})

test('an order placed from the catalog completes live, without a reload, and shows the trace it was placed in', async () => {
  const page = await newCustomer(browser)
  let reloads = 0
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) reloads++
  })
  const untraced = []
  page.on('request', (request) => {
    const traceparent = request.headers()['traceparent'] ?? ''
    if (request.url().includes('/v1/') && !/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(traceparent)) {
      untraced.push(request.url())
    }
  })
  const checkout = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/v1/orders')
  await order(page, 'Classic mug', 'Test card: approved')
  const navigations = reloads
  await statusBecomes(page, 'COMPLETED')
  assert.equal(reloads, navigations, 'the page was reloaded')
  for (const name of ['create_order', 'reserve_inventory', 'charge_payment', 'confirm_order']) {
    await step(page, name).and(page.locator('[data-status=completed]')).waitFor()
  }
  // Every call starts a trace; the order keeps its checkout's, carried through the
  // gateway and the saga to the order service, when the stack exports traces.
  assert.deepEqual(untraced, [], 'API calls without a traceparent')
  const traceId = (await checkout).headers()['traceparent'].split('-')[1]
  if (process.env.EXPECT_TRACES) {
    await page.getByTestId('trace').filter({ hasText: traceId }).waitFor()
    const link = await page.getByRole('link', { name: 'Open the trace' }).getAttribute('href')
    assert.ok(link?.endsWith(`/trace/${traceId}`), `the trace link is ${link}`)
  } else {
    assert.equal(await page.getByTestId('trace').count(), 0)
  }
  await page.locator('header [data-testid=connection]', { hasText: 'live' }).waitFor()
  await screenshot(page, 'order-completed')
  await page.close()
})

test('a declined card shows the compensation and the cancelled order with its reason', async () => {
  const page = await newCustomer(browser)
  await order(page, 'Earl Grey tea', 'Test card: declined')
  await statusBecomes(page, 'CANCELLED')
  await step(page, 'charge_payment').and(page.locator('[data-status=failed]')).waitFor()
  await step(page, 'release_inventory').and(page.locator('[data-status=completed]')).waitFor()
  await step(page, 'cancel_order').and(page.locator('[data-status=completed]')).waitFor()
  const reason = await page.getByTestId('cancel-reason').textContent()
  assert.match(reason ?? '', /declined/i)
  await screenshot(page, 'order-declined')
  await page.close()
})

test('a large order is in review until a reviewer approves it from the queue, then completes', async () => {
  const page = await newCustomer(browser)
  await order(page, 'Espresso machine', 'Test card: approved')
  const panel = page.getByRole('region', { name: 'In review' })
  await panel.waitFor({ timeout: 60_000 })
  const before = Number((await page.getByTestId('countdown').textContent())?.replace(' s', ''))
  assert.ok(before > 0 && before <= 900, `countdown ${before}`)
  assert.equal(await panel.getByRole('button').count(), 0, 'the customer does not decide')
  await screenshot(page, 'order-in-review')

  const reviewer = await signIn(browser, 'admin@example.com', 'admin-password')
  await approveInReview(reviewer, page)
  await screenshot(reviewer, 'review-approved')
  await statusBecomes(page, 'COMPLETED')
  await step(page, 'await_approval').and(page.locator('[data-status=completed]')).waitFor()
  await reviewer.close()
  await page.close()
})

test('a checkout the stock cannot cover is answered out of stock at once, the cart kept', async () => {
  const page = await newCustomer(browser)
  await page.getByRole('button', { name: 'Add Limited tea tin to cart' }).click()
  await page.getByLabel('Quantity of Limited tea tin').fill('50')
  await page.getByLabel('Quantity of Limited tea tin').dispatchEvent('change')
  await page.getByLabel('Test card: approved').check()
  await page.getByRole('button', { name: 'Place order' }).click()
  const alert = page.getByRole('alert').filter({ hasText: 'Not enough stock' })
  await alert.waitFor()
  assert.match((await alert.textContent()) ?? '', /LIMITED-TIN: 50 wanted, \d+ in stock/)
  assert.equal(new URL(page.url()).pathname, '/', 'still at the checkout')
  assert.equal(await page.getByLabel('Quantity of Limited tea tin').inputValue(), '50', 'the cart is kept')
  await screenshot(page, 'checkout-out-of-stock')
  await page.close()
})
