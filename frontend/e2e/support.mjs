// Browser end-to-end support: Debian's Chromium driven by playwright-core, against the
// whole local stack (infra/run.sh) with the UI at UI_URL. No browser is downloaded.
import { mkdir } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { chromium } from 'playwright-core'

export const UI = process.env.UI_URL ?? 'http://127.0.0.1:5173'
const SCREENSHOTS = new URL('./screenshots/', import.meta.url)

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** A fresh customer, signed in, on the catalog. */
export async function newCustomer(browser, options = {}) {
  const page = await browser.newPage(options)
  page.setDefaultTimeout(60_000)
  await page.goto(`${UI}/register`)
  await page.getByLabel('Name').fill('E2E Customer')
  await page.getByLabel('Email').fill(`e2e-${randomUUID()}@example.com`)
  await page.getByLabel('Password').fill('a long password')
  await page.getByRole('button', { name: 'Register' }).click()
  await page.getByRole('heading', { name: 'Catalog' }).waitFor()
  return page
}

export async function signIn(browser, email, password, options = {}) {
  const page = await browser.newPage(options)
  page.setDefaultTimeout(60_000)
  await page.goto(`${UI}/login`)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Catalog' }).waitFor()
  return page
}

/** As the reviewer on `reviewer`'s page, approves from the review queue the order that
 * `customer`'s page shows; resolves once the saga's answer is shown. */
export async function approveInReview(reviewer, customer) {
  const orderId = new URL(customer.url()).pathname.split('/').pop()
  await reviewer.getByRole('link', { name: 'Reviews' }).click()
  const item = reviewer.getByTestId('review-item').filter({ hasText: orderId })
  await item.getByRole('button', { name: 'Approve' }).click()
  await reviewer
    .getByTestId('decided-item')
    .filter({ hasText: orderId })
    .getByText('Approved: it goes on to the payment.')
    .waitFor()
}

/** Puts `quantity` of a product in the cart, chooses the card and places the order;
 * resolves on the order's page. */
export async function order(page, productName, cardLabel, quantity = 1) {
  for (let i = 0; i < quantity; i++) {
    await page.getByRole('button', { name: `Add ${productName} to cart` }).click()
  }
  await page.getByLabel(cardLabel).check()
  await page.getByRole('button', { name: 'Place order' }).click()
  await page.getByRole('heading', { name: /^Order / }).waitFor()
  return page.url().split('/').pop()
}

/** Waits, without reloading, until the order's status reads `status`. */
export async function statusBecomes(page, status) {
  await page.locator('[data-testid=order-status]', { hasText: status }).waitFor({ timeout: 90_000 })
}

export function step(page, name) {
  return page.locator(`.timeline [data-step=${name}]`)
}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true })
}
