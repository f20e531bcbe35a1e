// The typed API client. Types come from `schema.d.ts`, generated from the gateway's
// OpenAPI document (`npm run gen:api`); nothing here is written by hand but the
// plumbing: base URL, bearer token, one refresh-and-retry on 401, problem errors.
// The access token is held in memory by the auth store; the refresh token is an
// HttpOnly cookie scoped to /v1/auth that no script here ever sees.
import createClient from 'openapi-fetch'
import { waitInWords } from '@/format'
import { newTraceparent, traced } from './trace'
import type { components, paths } from './schema'

export type Schemas = components['schemas']
export type Product = Schemas['Product']
export type Order = Schemas['Order']
export type OrderDetail = Schemas['OrderDetail']
export type Notification = Schemas['Notification']
export type Customer = Schemas['Customer']
export type AccessToken = Schemas['AccessToken']
export type EventTicket = Schemas['EventTicket']
export type SagaStatus = Schemas['SagaStatus']
export type StepRecord = Schemas['StepRecord']
export type Breaker = Schemas['Breaker']
export type FailureMode = Schemas['FailureMode']
export type ReviewItem = Schemas['ReviewItem']
export type AttentionItem = Schemas['AttentionItem']
export type OperationsStats = Schemas['OperationsStats']
export type LoadBatch = Schemas['LoadBatch']
export type LoadBatchResult = Schemas['LoadBatchResult']
export type StepName = Schemas['StepName']
export type Problem = Schemas['Problem']
/** A service's business refusal, as the slug of a problem's type. */
export type Refusal = Schemas['Refusal']
export type EventKind = Schemas['EventKind']

export const apiBase: string = import.meta.env.VITE_API_BASE ?? ''

/** An RFC 9457 problem answered by the API, as an exception. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> & Record<string, unknown>,
    /** Seconds to wait before trying again, from the answer's `Retry-After` (a 429 or a 503). */
    readonly retryAfter?: number,
  ) {
    super(String(problem.detail ?? problem.title ?? `Request failed (${status})`))
  }

  get slug(): string {
    return problemType(this.problem).split('/').pop() ?? ''
  }
}

function problemType(problem: Partial<Problem>): string {
  return String((problem as Record<string, unknown>).type ?? '')
}

/** How the client obtains and renews tokens; the auth store provides it. */
export interface TokenSource {
  accessToken(): string | null
  /** Renews the access token; false when the user must log in again. */
  refresh(): Promise<boolean>
}

let tokens: TokenSource = { accessToken: () => null, refresh: async () => false }

export function useTokens(source: TokenSource) {
  tokens = source
}

/** The calls under /v1/auth/ that act on the signed-in user: they take the bearer token. */
const SIGNED_IN_AUTH_CALLS: (keyof paths)[] = ['/v1/auth/password', '/v1/auth/logout-everywhere']

/** Calls under /v1/auth/ work with a password or the cookie: no bearer (but for the
 * signed-in user's own, above), and no refresh on 401 (a wrong password is no expired
 * token; the auth store renews an expired one for the signed-in user's calls). */
function authCall(request: Request): 'none' | 'password or cookie' | 'signed in' {
  const path = new URL(request.url).pathname
  if (!path.includes('/v1/auth/')) return 'none'
  return SIGNED_IN_AUTH_CALLS.some((call) => path.endsWith(call)) ? 'signed in' : 'password or cookie'
}

function withBearer(request: Request): Request {
  const token = tokens.accessToken()
  if (token) request.headers.set('authorization', `Bearer ${token}`)
  return request
}

/** fetch with a trace and the bearer token; a 401 triggers one refresh and one retry
 * (the same call, in the same trace). */
async function authedFetch(request: Request): Promise<Response> {
  traced(request)
  const auth = authCall(request)
  if (auth === 'password or cookie') return fetch(request)
  if (auth === 'signed in') return fetch(withBearer(request))
  const retry = request.clone()
  const send = (req: Request) => fetch(withBearer(req))
  const response = await send(request)
  if (response.status !== 401 || !tokens.accessToken()) return response
  return (await tokens.refresh()) ? send(retry) : response
}

export const api = createClient<paths>({ baseUrl: apiBase, fetch: authedFetch })

/**
 * POSTs, with no body and no bearer, to an endpoint that reads the refresh token from
 * its HttpOnly cookie, which the browser adds by itself: the UI and the API share one
 * origin, and the cookie is `SameSite=Strict` and scoped to `/v1/auth`.
 */
export function postWithRefreshCookie(path: '/v1/auth/refresh' | '/v1/auth/logout'): Promise<Response> {
  const headers = { traceparent: newTraceparent() }
  return fetch(`${apiBase}${path}`, { method: 'POST', credentials: 'same-origin', headers })
}

/** The data of a call, or its problem thrown as an ApiError. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call
  if (error !== undefined || !response.ok) {
    throw new ApiError(response.status, (error ?? {}) as Partial<Problem>, retryAfter(response))
  }
  return data as T
}

/** An answer's `Retry-After` in seconds (the API sends it as a number of seconds). */
function retryAfter(response: Response): number | undefined {
  const value = response.headers.get('retry-after')?.trim()
  return value && /^\d+$/.test(value) ? Number(value) : undefined
}

/** A message fit for the user, whatever went wrong. */
export function describe(error: unknown): string {
  const outOfStock: Refusal = 'out-of-stock'
  if (error instanceof ApiError && error.slug === outOfStock && Array.isArray(error.problem.shortages)) {
    const shortages = error.problem.shortages as NonNullable<Problem['shortages']>
    const lines = shortages.map((s) => `${s.sku}: ${s.requested} wanted, ${s.available} in stock`)
    return `Not enough stock: ${lines.join('; ')}. Nothing was charged.`
  }
  if (error instanceof ApiError) {
    if (error.status === 429 && error.retryAfter !== undefined) {
      return `${error.problem.title ?? 'Too many attempts'}: try again in ${waitInWords(error.retryAfter)}.`
    }
    if (error.status === 503) return `${error.message} The service may be down; retries are automatic.`
    return error.message
  }
  if (error instanceof TypeError) return 'The shop cannot be reached. Check your connection.'
  return 'Something went wrong.'
}
