import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// The API at the page's origin, as when vite or nginx proxies /v1 (jsdom's Request
// needs absolute URLs).
vi.hoisted(() => vi.stubEnv('VITE_API_BASE', 'http://localhost:3000'))

import { api, ApiError, describe as describeProblem } from '@/api/client'
import { LEGACY_KEYS, SESSION_HINT, useAuthStore } from './auth'

/** A JWT-looking access token. */
const token = (n: number) => `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjLTEiLCJuIjo${n}fQ.sig${n}`
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })
const unauthorized = () => json(401, { type: '/problems/unauthorized', title: 'Unauthorized', status: 401 })

interface Call {
  method: string
  path: string
  authorization: string | null
  body: string
  credentials: RequestCredentials
}

/** A fake gateway: a valid refresh cookie rotates to the next access token. The
 * account's password is "a long password"; `throttled`: its attempts must wait 30 s. */
function gateway(options: { cookie?: boolean; throttled?: boolean; down?: boolean } = {}) {
  let cookie = options.cookie ?? true
  let issued = 0
  let current: string | null = null
  let password = 'a long password'
  const calls: Call[] = []
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init)
    const call: Call = {
      method: request.method,
      path: new URL(request.url).pathname,
      authorization: request.headers.get('authorization'),
      body: await request.text(),
      credentials: request.credentials,
    }
    calls.push(call)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const issue = () => {
      current = token(++issued)
      return json(200, { access_token: current, token_type: 'Bearer', expires_in: 900 })
    }
    switch (`${call.method} ${call.path}`) {
      case 'POST /v1/auth/login':
        cookie = true
        return issue()
      case 'POST /v1/auth/refresh':
        return cookie ? issue() : json(401, { type: '/problems/invalid-refresh-token', status: 401 })
      case 'POST /v1/auth/logout':
        cookie = false
        return new Response(null, { status: 204 })
      case 'GET /v1/me':
        return call.authorization === `Bearer ${current}`
          ? json(200, { id: 'c-1', email: 'a@example.com', name: 'A', role: 'customer', created_at: '' })
          : unauthorized()
      case 'POST /v1/auth/password': {
        if (call.authorization !== `Bearer ${current}`) return unauthorized()
        if (options.throttled) {
          const detail = 'Too many login attempts for this account. Retry in 30 s.'
          const problem = { type: '/problems/login-throttled', title: 'Too many login attempts', status: 429, detail }
          return json(429, problem, { 'retry-after': '30' })
        }
        const change = JSON.parse(call.body) as { current_password: string; new_password: string }
        if (change.current_password !== password) {
          const detail = 'The email or password is wrong.'
          return json(401, { type: '/problems/invalid-credentials', title: 'Invalid credentials', status: 401, detail })
        }
        // Every token issued before is revoked; this browser gets new ones.
        password = change.new_password
        cookie = true
        return issue()
      }
      case 'POST /v1/auth/logout-everywhere':
        if (call.authorization !== `Bearer ${current}`) return unauthorized()
        if (options.down) return json(503, { type: '/problems/unavailable', status: 503, detail: 'Try later.' })
        cookie = false
        current = null
        return new Response(null, { status: 204 })
      default:
        return json(404, {})
    }
  })
  vi.stubGlobal('fetch', fetch)
  return {
    calls,
    refreshes: () => calls.filter((c) => c.path === '/v1/auth/refresh'),
    to: (path: string) => calls.filter((c) => c.path === path),
    /** The current access token expires: the gateway no longer accepts it. */
    expire: () => {
      current = null
    },
  }
}

/** The fake gateway, and the store logged in to it with the account's password. */
async function signedIn(options: Parameters<typeof gateway>[0] = {}) {
  const server = gateway(options)
  const auth = useAuthStore()
  await auth.login('a@example.com', 'a long password')
  return { server, auth }
}

function storedValues(): string[] {
  return [localStorage, sessionStorage].flatMap((storage) =>
    Object.keys(storage).map((key) => `${key}=${storage.getItem(key)}`),
  )
}

describe('auth store', () => {
  beforeEach(() => {
    localStorage.clear()
    sessionStorage.clear()
    setActivePinia(createPinia())
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.restoreAllMocks()
  })

  it('keeps the access token in memory only: never in localStorage or sessionStorage', async () => {
    const writes = vi.spyOn(Storage.prototype, 'setItem')
    const { server, auth } = await signedIn()
    expect(auth.signedIn).toBe(true)
    server.expire()
    await auth.loadProfile()
    expect(server.refreshes()).toHaveLength(1)
    await auth.restore()
    const seen = [token(1), token(2), token(3)]
    for (const [, value] of writes.mock.calls) {
      expect(value).not.toMatch(/eyJ/)
      for (const t of seen) expect(value).not.toContain(t)
    }
    expect(storedValues().join('\n')).not.toMatch(/eyJ|token/)
  })

  it('removes the tokens an older version kept in localStorage, and nothing else', () => {
    localStorage.setItem('saga.access_token', token(7))
    localStorage.setItem('saga.refresh_token', 'r-7')
    sessionStorage.setItem('saga.access_token', token(7))
    localStorage.setItem('saga.cart', '[]')
    gateway()
    useAuthStore()
    for (const key of LEGACY_KEYS) {
      expect(localStorage.getItem(key)).toBeNull()
      expect(sessionStorage.getItem(key)).toBeNull()
    }
    expect(localStorage.getItem('saga.cart')).toBe('[]')
  })

  it('refreshes with the cookie only: a POST with no body and no bearer', async () => {
    const { server, auth } = await signedIn()
    expect(await auth.refresh()).toBe(true)
    const [refresh] = server.refreshes()
    expect(refresh).toEqual({
      method: 'POST',
      path: '/v1/auth/refresh',
      authorization: null,
      body: '',
      credentials: 'same-origin',
    })
    expect(auth.accessToken).toBe(token(2))
  })

  it('shares one refresh among concurrent 401s, then retries each call with the new token', async () => {
    const { server } = await signedIn()
    server.expire()
    const answers = await Promise.all([1, 2, 3, 4].map(() => api.GET('/v1/me')))
    expect(answers.map((a) => a.response.status)).toEqual([200, 200, 200, 200])
    expect(server.refreshes()).toHaveLength(1)
    const retried = server.calls.filter((c) => c.path === '/v1/me' && c.authorization === `Bearer ${token(2)}`)
    expect(retried).toHaveLength(4)
  })

  it('restores the session from the cookie once, on start', async () => {
    const server = gateway()
    localStorage.setItem(SESSION_HINT, '1')
    const auth = useAuthStore()
    expect(auth.signedIn).toBe(false)
    await Promise.all([auth.restore(), auth.restore()])
    await auth.restore()
    expect(auth.signedIn).toBe(true)
    expect(auth.accessToken).toBe(token(1))
    expect(server.refreshes()).toHaveLength(1)
  })

  it('starts signed out when there is no valid refresh cookie', async () => {
    const server = gateway({ cookie: false })
    localStorage.setItem(SESSION_HINT, '1')
    const auth = useAuthStore()
    await auth.restore()
    expect(auth.signedIn).toBe(false)
    expect(server.refreshes()).toHaveLength(1)
    expect(localStorage.getItem(SESSION_HINT)).toBeNull()
  })

  it('asks for no refresh on start in a browser that holds no session', async () => {
    const server = gateway()
    const auth = useAuthStore()
    await auth.restore()
    expect(auth.signedIn).toBe(false)
    expect(server.refreshes()).toHaveLength(0)
    // Signed in, then out: the next start asks for nothing either.
    await auth.login('a@example.com', 'a long password')
    expect(localStorage.getItem(SESSION_HINT)).toBe('1')
    await auth.logout()
    expect(localStorage.getItem(SESSION_HINT)).toBeNull()
  })

  it('signs out when the refresh is refused, and does not refresh for a 401 of the refresh itself', async () => {
    const { server, auth } = await signedIn()
    await auth.logout()
    expect(auth.signedIn).toBe(false)
    expect(await auth.refresh()).toBe(false)
    expect(server.refreshes()).toHaveLength(1)
  })

  it('stays signed in when the gateway cannot be reached for a refresh', async () => {
    const { auth } = await signedIn()
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))),
    )
    expect(await auth.refresh()).toBe(false)
    expect(auth.signedIn).toBe(true)
  })

  it('logs out with the cookie (no body) and forgets the token', async () => {
    const { server, auth } = await signedIn()
    await auth.logout()
    const logout = server.calls.find((c) => c.path === '/v1/auth/logout')
    expect(logout).toMatchObject({ method: 'POST', body: '', authorization: null })
    expect(auth.signedIn).toBe(false)
    expect(auth.user).toBeNull()
  })

  it('does not sign back in with a refresh that was under way at logout', async () => {
    const { auth } = await signedIn()
    const refreshing = auth.refresh()
    await auth.logout()
    await refreshing
    expect(auth.signedIn).toBe(false)
  })

  it('changes the password with the bearer token, and stays signed in with the new token', async () => {
    const { server, auth } = await signedIn()
    await auth.changePassword('a long password', 'another long password')
    const [change] = server.to('/v1/auth/password')
    expect(change).toMatchObject({ method: 'POST', authorization: `Bearer ${token(1)}` })
    expect(JSON.parse(change.body)).toEqual({
      current_password: 'a long password',
      new_password: 'another long password',
    })
    expect(auth.signedIn).toBe(true)
    expect(auth.accessToken).toBe(token(2))
    // The new token is the one the gateway accepts: no refresh is needed.
    await auth.loadProfile()
    expect(server.refreshes()).toHaveLength(0)
  })

  it('says a wrong current password as such, and stays signed in as before, with no refresh', async () => {
    const { server, auth } = await signedIn()
    const refused = await auth.changePassword('not my password', 'another long password').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ApiError)
    expect((refused as ApiError).status).toBe(401)
    expect(describeProblem(refused)).toBe('The current password is wrong.')
    expect(server.refreshes()).toHaveLength(0)
    expect(server.to('/v1/auth/password')).toHaveLength(1)
    expect(auth.signedIn).toBe(true)
    expect(auth.accessToken).toBe(token(1))
  })

  it('renews an expired access token, then sends the password change again', async () => {
    const { server, auth } = await signedIn()
    server.expire()
    await auth.changePassword('a long password', 'another long password')
    expect(server.refreshes()).toHaveLength(1)
    expect(server.to('/v1/auth/password').map((c) => c.authorization)).toEqual([
      `Bearer ${token(1)}`,
      `Bearer ${token(2)}`,
    ])
    expect(auth.accessToken).toBe(token(3))
  })

  it('keeps the wait of a throttled password change (Retry-After) and stays signed in', async () => {
    const { auth } = await signedIn({ throttled: true })
    const refused = await auth.changePassword('a long password', 'another long password').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ApiError)
    expect((refused as ApiError).retryAfter).toBe(30)
    expect(describeProblem(refused)).toBe('Too many login attempts: try again in 30 s.')
    expect(auth.accessToken).toBe(token(1))
  })

  it('signs out everywhere with the bearer token: signed out here, and the cookie no longer refreshes', async () => {
    const { server, auth } = await signedIn()
    await auth.logoutEverywhere()
    const [call] = server.to('/v1/auth/logout-everywhere')
    expect(call).toMatchObject({ method: 'POST', authorization: `Bearer ${token(1)}`, body: '' })
    expect(auth.signedIn).toBe(false)
    expect(auth.user).toBeNull()
    expect(await auth.refresh()).toBe(false)
    expect(auth.signedIn).toBe(false)
  })

  it('stays signed in when signing out everywhere fails', async () => {
    const { auth } = await signedIn({ down: true })
    await expect(auth.logoutEverywhere()).rejects.toThrow('Try later.')
    expect(auth.signedIn).toBe(true)
    expect(auth.accessToken).toBe(token(1))
  })
})
