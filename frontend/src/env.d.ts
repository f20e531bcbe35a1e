/// <reference types="vite/client" />

interface ImportMetaEnv {
  /**
   * Where the gateway is, when not under the UI's own origin (the default, `/v1` of the
   * page's origin). Sessions need the API under the UI's origin: the refresh token is a
   * same-origin `SameSite=Strict` cookie, so with a gateway elsewhere a sign-in lasts
   * one access token and a reload signs out.
   */
  readonly VITE_API_BASE?: string
  /** The WebSocket API for real-time events on AWS (the stack's `WebSocketUrl` output);
   * opened with a ticket from `/v1/events/ticket`. */
  readonly VITE_EVENTS_URL?: string
}

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

/** The services the gateway calls, from infra/services.json (vite.config.ts). */
declare const __GATEWAY_SERVICES__: readonly string[]
