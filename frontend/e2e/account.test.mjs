// The account page in a real browser: a password change keeps this browser signed in
// and signs every other session out (each browser below is a context of its own, with
// its own cookies); signing out everywhere signs out every browser, this one too. Both
// pages fit a 390 px phone screen.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import { launch, screenshot, UI } from './support.mjs'

const PASSWORD = 'a long password'
const NEW_PASSWORD = 'another long password'
const PHONE = { viewport: { width: 390, height: 844 } }

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

/** A page in a browser context of its own: another browser, as far as the gateway knows. */
async function newBrowser(options = {}) {
  const context = await browser.newContext(options)
  const page = await context.newPage()
  page.setDefaultTimeout(60_000)
  return page
}

const isPost = (path) => (r) => new URL(r.url()).pathname === path && r.request().method() === 'POST'
const live = (page) => page.locator('header [data-testid=connection]', { hasText: /^live$/ })
const accountHeading = (page) => page.getByRole('heading', { name: 'Account', exact: true })
const signInHeading = (page) => page.getByRole('heading', { name: 'Sign in' })

/** Registers a new customer on `page`, signed in on the catalog; their email. */
async function register(page) {
  const email = `e2e-account-${randomUUID()}@example.com`
  await page.goto(`${UI}/register`)
  await page.getByLabel('Name').fill('E2E Account')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Register' }).click()
  await page.getByRole('heading', { name: 'Catalog' }).waitFor()
  return email
}

/** Signs in on `page`; the access token the gateway answered. */
async function signIn(page, email, password) {
  await page.goto(`${UI}/login`)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  const login = page.waitForResponse(isPost('/v1/auth/login'))
  await page.getByRole('button', { name: 'Sign in' }).click()
  const answer = await login
  assert.equal(answer.status(), 200)
  await page.getByRole('heading', { name: 'Catalog' }).waitFor()
  return (await answer.json()).access_token
}

/** The status of `GET /v1/me` with `token`, from `page`'s browser. */
async function meWith(page, token) {
  const response = await page.request.get(`${UI}/v1/me`, { headers: { authorization: `Bearer ${token}` } })
  return response.status()
}

async function assertFitsThePhone(page, what) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, `${what}: ${overflow} px wider than the screen`)
}

test('a password change keeps this browser signed in and signs out every other one; only the new password signs in', async () => {
  const mine = await newBrowser(PHONE)
  const email = await register(mine)
  await live(mine).waitFor()

  // Two other browsers signed in before the change. The first one's event stream is a
  // silent stand-in, so that only its API calls can tell it that it was signed out;
  // the second has the real stream, which the gateway closes.
  const quiet = await newBrowser()
  await quiet.context().routeWebSocket(/\/v1\/events/, () => {})
  const quietToken = await signIn(quiet, email, PASSWORD)
  await live(quiet).waitFor()
  assert.equal(await meWith(quiet, quietToken), 200)
  const other = await newBrowser()
  await signIn(other, email, PASSWORD)
  await other.getByRole('link', { name: 'Orders' }).click()
  await other.getByRole('heading', { name: 'Orders' }).waitFor()
  await live(other).waitFor()

  await mine.getByRole('link', { name: 'Account' }).click()
  await accountHeading(mine).waitFor()
  await mine.getByText(`(${email})`).waitFor()
  await assertFitsThePhone(mine, 'the account page')

  // A wrong current password is refused as such, and signs nothing out.
  await mine.getByLabel('Current password').fill('not my password')
  await mine.getByLabel('New password').fill(NEW_PASSWORD)
  const refused = mine.waitForResponse(isPost('/v1/auth/password'))
  await mine.getByRole('button', { name: 'Change password' }).click()
  assert.equal((await refused).status(), 401)
  await mine.getByRole('alert').filter({ hasText: 'The current password is wrong.' }).waitFor()
  await live(mine).waitFor()
  assert.equal(await meWith(quiet, quietToken), 200, 'a refused change revokes nothing')

  await mine.getByLabel('Current password').fill(PASSWORD)
  await mine.getByLabel('New password').fill(NEW_PASSWORD)
  const changed = mine.waitForResponse(isPost('/v1/auth/password'))
  await mine.getByRole('button', { name: 'Change password' }).click()
  assert.equal((await changed).status(), 200)
  await mine.getByRole('status').filter({ hasText: 'Password changed.' }).waitFor()
  assert.equal(await mine.getByRole('alert').count(), 0)
  assert.equal(await mine.getByLabel('Current password').inputValue(), '')
  await screenshot(mine, 'account-password-changed-phone')

  // This browser carries on: its stream opens again, and a reload signs it in again
  // from the new cookie.
  await live(mine).waitFor()
  assert.equal(new URL(mine.url()).pathname, '/account')
  const restored = mine.waitForResponse(isPost('/v1/auth/refresh'))
  await mine.reload()
  assert.equal((await restored).status(), 200)
  await accountHeading(mine).waitFor()
  await mine.getByRole('button', { name: 'Sign out', exact: true }).waitFor()

  // The browser with the real stream is signed out at once, with no action of its own.
  await signInHeading(other).waitFor({ timeout: 30_000 })
  assert.equal(new URL(other.url()).pathname, '/login')

  // The quiet one learns it at its next API call: its access token is refused, and so is
  // its refresh cookie; it lands on the sign-in page.
  const orders = quiet.waitForResponse((r) => new URL(r.url()).pathname === '/v1/orders')
  const renewal = quiet.waitForResponse(isPost('/v1/auth/refresh'))
  await quiet.getByRole('link', { name: 'Orders' }).click()
  assert.equal((await orders).status(), 401)
  assert.equal((await renewal).status(), 401)
  await signInHeading(quiet).waitFor()
  assert.equal(new URL(quiet.url()).pathname, '/login')
  assert.equal(await meWith(quiet, quietToken), 401)

  // The old password no longer signs in; the new one does.
  const later = await newBrowser()
  await later.goto(`${UI}/login`)
  await later.getByLabel('Email').fill(email)
  await later.getByLabel('Password').fill(PASSWORD)
  const oldPassword = later.waitForResponse(isPost('/v1/auth/login'))
  await later.getByRole('button', { name: 'Sign in' }).click()
  assert.equal((await oldPassword).status(), 401)
  await later.getByRole('alert').waitFor()
  assert.equal(new URL(later.url()).pathname, '/login')
  await signIn(later, email, NEW_PASSWORD)

  for (const page of [mine, quiet, other, later]) await page.context().close()
})

test('signing out everywhere, once confirmed, signs out this browser and every other one', async () => {
  const mine = await newBrowser(PHONE)
  const email = await register(mine)
  const other = await newBrowser()
  const otherToken = await signIn(other, email, PASSWORD)
  await other.getByRole('link', { name: 'Orders' }).click()
  await other.getByRole('heading', { name: 'Orders' }).waitFor()
  await live(other).waitFor()

  await mine.getByRole('link', { name: 'Account' }).click()
  await accountHeading(mine).waitFor()
  await mine.getByRole('button', { name: 'Sign out everywhere', exact: true }).click()
  const confirm = mine.getByRole('button', { name: 'Yes, sign out everywhere' })
  await confirm.waitFor()
  await assertFitsThePhone(mine, 'the account page, confirming')
  await screenshot(mine, 'account-phone')

  // Cancel signs nothing out.
  await mine.getByRole('button', { name: 'Cancel' }).click()
  await mine.getByRole('button', { name: 'Sign out everywhere', exact: true }).click()

  const done = mine.waitForResponse(isPost('/v1/auth/logout-everywhere'))
  await confirm.click()
  assert.equal((await done).status(), 204)
  await signInHeading(mine).waitFor()
  await mine.getByRole('status').filter({ hasText: 'You are signed out on every device.' }).waitFor()
  assert.equal(new URL(mine.url()).pathname, '/login')
  await assertFitsThePhone(mine, 'the sign-in page after signing out everywhere')

  // The other browser is signed out too, by its stream; its token no longer works.
  await signInHeading(other).waitFor({ timeout: 30_000 })
  assert.equal(await meWith(other, otherToken), 401)

  // Neither signs in again: signed out, neither browser asks for a refresh on start,
  // and its cookie, sent anyway, is refused (cleared here, revoked there).
  for (const page of [mine, other]) {
    const refreshes = []
    const record = (response) => {
      if (isPost('/v1/auth/refresh')(response)) refreshes.push(response.status())
    }
    page.on('response', record)
    await page.goto(`${UI}/orders`)
    await signInHeading(page).waitFor()
    page.off('response', record)
    assert.equal(new URL(page.url()).pathname, '/login')
    assert.deepEqual(refreshes, [])
    assert.equal((await page.request.post(`${UI}/v1/auth/refresh`)).status(), 401)
  }

  for (const page of [mine, other]) await page.context().close()
})

test('wrong current passwords are throttled like logins, and the page says how long to wait', async () => {
  const mine = await newBrowser()
  await register(mine)
  await mine.getByRole('link', { name: 'Account' }).click()
  await accountHeading(mine).waitFor()
  await mine.getByLabel('New password').fill(NEW_PASSWORD)
  let answer
  for (let attempt = 1; attempt <= 12; attempt++) {
    await mine.getByLabel('Current password').fill(`not my password ${attempt}`)
    const sent = mine.waitForResponse(isPost('/v1/auth/password'))
    await mine.getByRole('button', { name: 'Change password' }).click()
    answer = await sent
    if (answer.status() !== 401) break
    await mine.getByRole('alert').filter({ hasText: 'The current password is wrong.' }).waitFor()
  }
  assert.equal(answer.status(), 429)
  const seconds = Number(await answer.headerValue('retry-after'))
  assert.ok(seconds > 0, `Retry-After: ${seconds}`)
  const wait = seconds < 60 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`
  await mine
    .getByRole('alert')
    .filter({ hasText: `Too many login attempts: try again in ${wait}.` })
    .waitFor()
  // Still signed in here, on the page.
  assert.equal(new URL(mine.url()).pathname, '/account')
  await mine.getByRole('button', { name: 'Sign out', exact: true }).waitFor()
  await live(mine).waitFor()
  await mine.context().close()
})
