/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Where the gateway is, when the UI is not served from the same origin (e.g. S3). */
  readonly VITE_API_BASE?: string
  /** The WebSocket API for real-time events on AWS (the stack's `WebSocketUrl` output). */
  readonly VITE_EVENTS_URL?: string
}

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}
