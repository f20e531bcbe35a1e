// The session in a real browser: tokens out of the reach of page scripts (the access
// token in memory only, the refresh token an HttpOnly cookie), a reload that stays
// signed in, the event stream opened with a ticket, a strict CSP with no violation,
// and a logout that holds across reloads and reaches the other tabs.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, test } from 'node:test'
import { launch, UI } from './support.mjs'

const JWT = /eyJ[\w-]+\.[\w-]+/
/** Where the browser sends the refresh cookie (it is scoped to /v1/auth). */
const AUTH = () => `${UI}/v1/auth/refresh`

let browser
before(async () => {
  browser = await launch()
})
after(async () => {
  await browser?.close()
})

/**
 * A page that records what would betray a leak or a broken policy: CSP violations
 * (the DOM event, and Chromium's console report), console errors, WebSocket URLs.
 */
async function watchedPage(context) {
  const page = await context.newPage()
  page.setDefaultTimeout(60_000)
  const seen = { violations: [], console: [], sockets: [] }
  // Bindings and init scripts are not subject to the page's CSP.
  await page.exposeBinding('reportViolation', (_source, violation) => seen.violations.push(violation))
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      window.reportViolation(
        `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`,
      ),
    )
  })
  page.on('console', (message) => seen.console.push(`${message.type()}: ${message.text()}`))
  page.on('websocket', (socket) => seen.sockets.push(socket.url()))
  return { page, seen }
}

function assertClean(seen) {
  assert.deepEqual(seen.violations, [], 'CSP violations')
  const policyReports = seen.console.filter((m) =>
    /Content[- ]Security[- ]Policy|Refused to|Permissions-Policy/i.test(m),
  )
  assert.deepEqual(policyReports, [], 'policy reports in the console')
}

/** What page scripts can read: both storages and document.cookie. */
function readable(page) {
  return page.evaluate(() => ({
    storage: [localStorage, sessionStorage].flatMap((s) => Object.keys(s).map((k) => [k, s.getItem(k)])),
    cookie: document.cookie,
  }))
}

async function register(page) {
  const email = `e2e-session-${randomUUID()}@example.com`
  await page.goto(`${UI}/register`)
  await page.getByLabel('Name').fill('E2E Session')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill('a long password')
  const login = page.waitForResponse((r) => r.url().endsWith('/v1/auth/login') && r.request().method() === 'POST')
  await page.getByRole('button', { name: 'Register' }).click()
  const response = await login
  await page.getByRole('heading', { name: 'Catalog' }).waitFor()
  return { email, login: response }
}

const live = (page) => page.locator('header [data-testid=connection]', { hasText: /^live$/ })

test('tokens stay out of reach of page scripts; a reload stays signed in; a strict CSP holds; logout sticks', async () => {
  const context = await browser.newContext()
  const { page, seen } = await watchedPage(context)

  // The page comes with its security headers, and its HTML has nothing inline.
  const first = await page.goto(`${UI}/`)
  const headers = first.headers()
  const csp = headers['content-security-policy'] ?? ''
  assert.match(csp, /default-src 'self'/)
  assert.match(csp, /script-src 'self'(;|$)/)
  assert.match(csp, /style-src 'self'(;|$)/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.doesNotMatch(csp, /unsafe/)
  assert.equal(headers['x-content-type-options'], 'nosniff')
  assert.equal(headers['referrer-policy'], 'no-referrer')
  assert.equal(headers['x-frame-options'], 'DENY')
  assert.match(headers['permissions-policy'] ?? '', /camera=\(\)/)
  const html = await first.text()
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline script')
  assert.doesNotMatch(html, /<style|\sstyle=/, 'an inline style')

  // Tokens an older version kept in localStorage are removed at start.
  await page.evaluate(() => {
    localStorage.setItem('saga.access_token', 'eyJold.eyJold.sig')
    localStorage.setItem('saga.refresh_token', 'old-refresh')
  })
  await page.reload()
  await page.getByRole('heading', { name: 'Catalog' }).waitFor()
  assert.deepEqual(
    (await readable(page)).storage.filter(([k]) => k.startsWith('saga.') && k !== 'saga.cart'),
    [],
  )

  // Sign in: the access token comes in the body, the refresh token as a cookie only.
  const { login } = await register(page)
  const body = await login.json()
  assert.equal(typeof body.access_token, 'string')
  assert.equal(body.refresh_token, undefined)
  const setCookie = (await login.headerValue('set-cookie')) ?? ''
  assert.match(setCookie, /^refresh_token=[^;]+;/)
  for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/v1/auth']) {
    assert.ok(setCookie.includes(attribute), `the cookie is ${attribute}: ${setCookie}`)
  }
  const [cookie] = (await context.cookies(AUTH())).filter((c) => c.name === 'refresh_token')
  assert.ok(cookie, 'the browser keeps the refresh cookie')
  assert.equal(cookie.httpOnly, true)
  assert.equal(cookie.sameSite, 'Strict')

  // The event stream opens with a ticket, never with the token.
  await live(page).waitFor()
  assert.ok(seen.sockets.length >= 1)
  for (const url of seen.sockets) {
    assert.match(url, /\/v1\/events\?ticket=[^&]+&after=\d+$/)
    assert.doesNotMatch(url, /access_token|eyJ/)
  }

  // Nothing a page script can read holds a token.
  const signedIn = await readable(page)
  for (const [key, value] of signedIn.storage) {
    assert.ok(!value.includes(body.access_token), `${key} holds the access token`)
    assert.doesNotMatch(value, JWT, `${key} holds a JWT`)
    assert.ok(!value.includes(cookie.value), `${key} holds the refresh token`)
  }
  assert.doesNotMatch(signedIn.cookie, /refresh_token/)
  assert.ok(!signedIn.cookie.includes(cookie.value))

  // A reload of a signed-in page stays on it, signed in again from the cookie.
  await page.getByRole('link', { name: 'Orders' }).click()
  await page.getByRole('heading', { name: 'Orders' }).waitFor()
  const restored = page.waitForResponse((r) => r.url().endsWith('/v1/auth/refresh'))
  await page.reload()
  assert.equal((await restored).status(), 200)
  await page.getByRole('heading', { name: 'Orders' }).waitFor()
  assert.equal(new URL(page.url()).pathname, '/orders')
  await page.getByRole('button', { name: 'Sign out' }).waitFor()
  await live(page).waitFor()
  const reloaded = await readable(page)
  assert.doesNotMatch(JSON.stringify(reloaded.storage), JWT)
  assert.doesNotMatch(reloaded.cookie, /refresh_token/)

  // Logout signs out, clears the cookie, and a reload stays signed out.
  const loggedOut = page.waitForResponse((r) => r.url().endsWith('/v1/auth/logout'))
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  assert.equal((await loggedOut).status(), 204)
  assert.deepEqual(
    (await context.cookies(AUTH())).filter((c) => c.name === 'refresh_token' && c.value),
    [],
    'the refresh cookie is cleared',
  )
  // Signed out, the browser asks for no refresh on start (it holds no session), and
  // a refresh sent anyway is refused: the cookie is gone.
  const refreshes = []
  const record = (r) => {
    if (r.url().endsWith('/v1/auth/refresh')) refreshes.push(r.status())
  }
  page.on('response', record)
  await page.goto(`${UI}/orders`)
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  page.off('response', record)
  assert.deepEqual(refreshes, [])
  assert.equal((await page.request.post(`${UI}/v1/auth/refresh`)).status(), 401)
  assert.equal(new URL(page.url()).pathname, '/login')
  await page.getByRole('link', { name: 'Sign in' }).waitFor()

  assertClean(seen)
  await context.close()
})

test('a logout in one tab signs the other tabs out (their stream closes with 4403)', async () => {
  const context = await browser.newContext()
  const one = await watchedPage(context)
  await register(one.page)
  await live(one.page).waitFor()

  // A second tab of the same browser is signed in by the shared cookie.
  const two = await watchedPage(context)
  await two.page.goto(`${UI}/orders`)
  await two.page.getByRole('heading', { name: 'Orders' }).waitFor()
  await live(two.page).waitFor()

  await one.page.getByRole('button', { name: 'Sign out' }).click()
  await one.page.getByRole('heading', { name: 'Sign in' }).waitFor()
  // The gateway closes the other tab's stream: it signs out and leaves the page.
  await two.page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 30_000 })
  await two.page.getByRole('link', { name: 'Sign in' }).waitFor()

  assertClean(one.seen)
  assertClean(two.seen)
  await context.close()
})
