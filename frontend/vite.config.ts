import { defineConfig } from 'vitest/config'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { devSecurityHeaders, securityHeaders } from './security-headers'

// The gateway the dev and preview servers proxy to: same origin for the browser, so
// no CORS is needed locally, and the WebSocket goes through the same proxy.
const gateway = process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000'
const proxy = { '/v1': { target: gateway, changeOrigin: true, ws: true } }

// The services the gateway calls, as infra/services.json declares them: the admin
// page switches their failure modes. Only their names go into the bundle.
const declared: Record<string, { callers: string[] }> = JSON.parse(
  readFileSync(new URL('../infra/services.json', import.meta.url), 'utf8'),
)
const gatewayServices = Object.keys(declared).filter((name) => declared[name].callers.includes('gateway'))

export default defineConfig({
  plugins: [vue()],
  define: { __GATEWAY_SERVICES__: JSON.stringify(gatewayServices) },
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    port: 5173,
    strictPort: true,
    proxy,
    headers: devSecurityHeaders,
    // The unit tests also read nginx's configuration, to compare its headers.
    fs: process.env.VITEST ? { allow: ['.', '../infra/docker'] } : undefined,
  },
  preview: {
    host: '127.0.0.1',
    port: Number(process.env.UI_PORT ?? 5173),
    strictPort: true,
    proxy,
    headers: securityHeaders,
  },
  test: { environment: 'jsdom', include: ['src/**/*.spec.ts'] },
})
