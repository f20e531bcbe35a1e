// The typed API client. Types come from `schema.d.ts`, generated from the gateway's
// OpenAPI document (`npm run gen:api`); nothing here is written by hand but the
// plumbing: base URL, bearer token, one refresh-and-retry on 401, problem errors.
import createClient from 'openapi-fetch'
import type { components, paths } from './schema'

export type Schemas = components['schemas']
export type Product = Schemas['Product']
export type Order = Schemas['Order']
export type OrderDetail = Schemas['OrderDetail']
export type Notification = Schemas['Notification']
export type Customer = Schemas['Customer']
export type TokenPair = Schemas['TokenPair']
export type SagaStatus = Schemas['SagaStatus']
export type StepRecord = Schemas['StepRecord']
export type Breaker = Schemas['Breaker']
export type FailureMode = Schemas['FailureMode']
export type Problem = Schemas['Problem']

export const apiBase: string = import.meta.env.VITE_API_BASE ?? ''

/** An RFC 9457 problem answered by the API, as an exception. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem> & Record<string, unknown>,
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

/** fetch with the bearer token; a 401 triggers one refresh and one retry. */
async function authedFetch(request: Request): Promise<Response> {
  const retry = request.clone()
  const send = (req: Request) => {
    const token = tokens.accessToken()
    if (token) req.headers.set('authorization', `Bearer ${token}`)
    return fetch(req)
  }
  const response = await send(request)
  if (response.status !== 401 || !tokens.accessToken()) return response
  return (await tokens.refresh()) ? send(retry) : response
}

export const api = createClient<paths>({ baseUrl: apiBase, fetch: authedFetch })

/** The data of a call, or its problem thrown as an ApiError. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call
  if (error !== undefined || !response.ok) {
    throw new ApiError(response.status, (error ?? {}) as Partial<Problem>)
  }
  return data as T
}

/** A message fit for the user, whatever went wrong. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 503) return `${error.message} The service may be down; retries are automatic.`
    return error.message
  }
  if (error instanceof TypeError) return 'The shop cannot be reached. Check your connection.'
  return 'Something went wrong.'
}
