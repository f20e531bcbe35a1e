// Who is signed in. The access token lives in memory only (this store), never in
// localStorage or sessionStorage; the refresh token is an HttpOnly cookie
// (`Path=/v1/auth; SameSite=Strict`) that no script can read, sent by the browser to
// `/v1/auth/refresh` and `/v1/auth/logout` only. A reload therefore starts signed out,
// and `restore()` asks for a new access token with that cookie before the first route
// is decided, when this browser last held a session (`SESSION_HINT`).
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, ApiError, postWithRefreshCookie, unwrap, useTokens, type AccessToken, type Customer } from '@/api/client'

/** Where an older version kept the tokens: removed at start. */
export const LEGACY_KEYS = ['saga.access_token', 'saga.refresh_token'] as const

/** Set while this browser holds a session (a flag, no token), so that a visitor who
 * never signed in, or signed out, is not sent to `/v1/auth/refresh` on every start:
 * that call could only answer 401, which the browser logs as an error. */
export const SESSION_HINT = 'saga.signed_in'

/** Across tabs, one refresh (or logout) at a time: they share the cookie, and a
 * refresh token works once (presenting a used one revokes the whole login). */
const REFRESH_LOCK = 'saga.refresh'

function forgetLegacyTokens() {
  for (const storage of [globalThis.localStorage, globalThis.sessionStorage]) {
    for (const key of LEGACY_KEYS) storage?.removeItem(key)
  }
}

/** The problem of a wrong password (the customer service's). */
const WRONG_PASSWORD = 'invalid-credentials'

/** True for the gateway's 401 about the access token itself (missing, invalid,
 * expired or revoked), not about a password. */
function expiredToken(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401 && error.slug === 'unauthorized'
}

/** Runs `task` holding the cross-tab refresh lock, where the browser has Web Locks. */
function exclusively<T>(task: () => Promise<T>): Promise<T> {
  const locks = globalThis.navigator?.locks
  return locks ? (locks.request(REFRESH_LOCK, task) as Promise<T>) : task()
}

export const useAuthStore = defineStore('auth', () => {
  forgetLegacyTokens()
  const accessToken = ref<string | null>(null)
  const user = ref<Customer | null>(null)
  const signedIn = computed(() => accessToken.value !== null)
  const isAdmin = computed(() => user.value?.role === 'admin')
  let refreshing: Promise<boolean> | null = null
  let restoring: Promise<void> | null = null
  /** Bumped by every sign-in and sign-out: a refresh that was under way then is stale. */
  let epoch = 0

  function keep(token: AccessToken | null) {
    accessToken.value = token?.access_token ?? null
    if (token) {
      globalThis.localStorage?.setItem(SESSION_HINT, '1')
    } else {
      user.value = null
      globalThis.localStorage?.removeItem(SESSION_HINT)
    }
  }

  async function login(email: string, password: string) {
    epoch++
    keep(await unwrap(api.POST('/v1/auth/login', { body: { email, password } })))
    await loadProfile()
  }

  async function register(name: string, email: string, password: string) {
    await unwrap(api.POST('/v1/auth/register', { body: { name, email, password } }))
    await login(email, password)
  }

  async function loadProfile() {
    user.value = await unwrap(api.GET('/v1/me'))
  }

  /**
   * A new access token from the refresh cookie (no body). Single-flight: concurrent
   * 401s share one refresh, since a refresh token works once. False, and signed out,
   * when the cookie is missing or no longer valid; false, still signed in, when the
   * gateway cannot answer now (the next 401 tries again).
   */
  function refresh(): Promise<boolean> {
    if (!refreshing) {
      const started = epoch
      refreshing = exclusively(async () => {
        try {
          const response = await postWithRefreshCookie('/v1/auth/refresh')
          if (started !== epoch) return signedIn.value
          if (response.ok) {
            keep((await response.json()) as AccessToken)
            return true
          }
          // 401: no cookie, or one unknown, expired, revoked or used.
          if (response.status === 401) keep(null)
          return false
        } catch {
          return false
        }
      }).finally(() => {
        refreshing = null
      })
    }
    return refreshing
  }

  /** On app start: signed in again if the refresh cookie is still good. Once. */
  function restore(): Promise<void> {
    const hinted = globalThis.localStorage?.getItem(SESSION_HINT) !== null
    restoring ??= hinted ? refresh().then(() => undefined) : Promise.resolve()
    return restoring
  }

  /** Signs out here only: the gateway said so (e.g. this login was logged out). */
  function forget() {
    epoch++
    keep(null)
  }

  /** Revokes the login (the cookie tells the gateway which) and forgets the token. */
  async function logout() {
    epoch++
    keep(null)
    // After any refresh under way (here or in another tab), so that the cookie sent is
    // the latest one.
    await exclusively(async () => {
      try {
        await postWithRefreshCookie('/v1/auth/logout')
      } catch {
        // Unreachable gateway: signed out here all the same.
      }
    })
  }

  /**
   * Runs `task`, a call of the signed-in user's under /v1/auth/ whose answer sets or
   * clears the refresh cookie, holding the cross-tab lock, so that no refresh under way
   * overwrites that cookie with an older one. The client renews no token for these
   * calls (their 401 may be a wrong password): when the access token had expired, it is
   * refreshed here, outside the lock (the refresh takes it), and `task` runs once more.
   */
  async function withSession<T>(task: () => Promise<T>): Promise<T> {
    try {
      return await exclusively(task)
    } catch (error) {
      if (!expiredToken(error) || !(await refresh())) throw error
      return exclusively(task)
    }
  }

  /**
   * Changes the password, given the current one. The gateway signs out every other
   * session (every token issued before stops working) and answers new tokens for this
   * one, kept here (the refresh token in the cookie): this tab stays signed in. A wrong
   * current password is a 401 said as such; too many attempts, a 429 with `retryAfter`.
   */
  async function changePassword(currentPassword: string, newPassword: string) {
    const body = { current_password: currentPassword, new_password: newPassword }
    await withSession(async () => {
      const token = await unwrap(api.POST('/v1/auth/password', { body })).catch((error: unknown) => {
        if (error instanceof ApiError && error.slug === WRONG_PASSWORD) {
          throw new ApiError(error.status, { ...error.problem, detail: 'The current password is wrong.' })
        }
        throw error
      })
      // A refresh under way was made with the old cookie: its answer is stale.
      epoch++
      keep(token)
    })
  }

  /** Signs out every session of the user, on every device, this one included: every
   * token issued so far stops working, and the cookie is cleared. Still signed in if
   * the gateway refused or could not be reached. */
  async function logoutEverywhere() {
    await withSession(async () => {
      await unwrap(api.POST('/v1/auth/logout-everywhere'))
      forget()
    })
  }

  useTokens({ accessToken: () => accessToken.value, refresh })

  return {
    accessToken,
    user,
    signedIn,
    isAdmin,
    login,
    register,
    loadProfile,
    refresh,
    restore,
    forget,
    logout,
    changePassword,
    logoutEverywhere,
  }
})
