// Who is signed in: tokens (kept in localStorage so a reload stays signed in), the
// profile, and the one refresh in flight at a time.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, unwrap, useTokens, type Customer, type TokenPair } from '@/api/client'

const ACCESS = 'saga.access_token'
const REFRESH = 'saga.refresh_token'

export const useAuthStore = defineStore('auth', () => {
  const accessToken = ref<string | null>(localStorage.getItem(ACCESS))
  const refreshToken = ref<string | null>(localStorage.getItem(REFRESH))
  const user = ref<Customer | null>(null)
  const signedIn = computed(() => accessToken.value !== null)
  const isAdmin = computed(() => user.value?.role === 'admin')
  let refreshing: Promise<boolean> | null = null

  function keep(pair: TokenPair | null) {
    accessToken.value = pair?.access_token ?? null
    refreshToken.value = pair?.refresh_token ?? null
    for (const [key, value] of [
      [ACCESS, accessToken.value],
      [REFRESH, refreshToken.value],
    ] as const) {
      if (value) localStorage.setItem(key, value)
      else localStorage.removeItem(key)
    }
  }

  async function login(email: string, password: string) {
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

  /** Single-flight: concurrent 401s share one refresh (a refresh token works once). */
  function refresh(): Promise<boolean> {
    if (!refreshing) {
      refreshing = (async () => {
        const token = refreshToken.value
        if (!token) return false
        const { data, response } = await api.POST('/v1/auth/refresh', { body: { refresh_token: token } })
        if (!response.ok || !data) {
          keep(null)
          user.value = null
          return false
        }
        keep(data)
        return true
      })().finally(() => {
        refreshing = null
      })
    }
    return refreshing
  }

  async function logout() {
    const token = refreshToken.value
    keep(null)
    user.value = null
    if (token) await api.POST('/v1/auth/logout', { body: { refresh_token: token } })
  }

  useTokens({ accessToken: () => accessToken.value, refresh })

  return { accessToken, user, signedIn, isAdmin, login, register, loadProfile, refresh, logout }
})
