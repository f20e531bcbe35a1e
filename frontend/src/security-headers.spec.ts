// The UI's security headers are the same wherever it is served: `vite preview` (and
// `npm run dev`, with inline styles for hot reload; see vite.config.ts) and the nginx
// of the container.
import { describe, expect, it } from 'vitest'
import nginx from '../../infra/docker/nginx.conf?raw'
import { contentSecurityPolicy, devSecurityHeaders, securityHeaders } from '../security-headers'

describe('security headers', () => {
  it('are a strict CSP: nothing but the own origin, no inline script or style, no eval', () => {
    const csp = securityHeaders['Content-Security-Policy']
    expect(csp).not.toMatch(/unsafe|\*|https?:|wss?:/)
    expect(csp).toContain("script-src 'self';")
    expect(csp).toContain("style-src 'self';")
    expect(csp).toContain("object-src 'none'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(Object.keys(contentSecurityPolicy)).toContain('default-src')
  })

  it('are relaxed for the dev server by inline styles only', () => {
    const dev = devSecurityHeaders['Content-Security-Policy']
    expect(dev).toBe(
      securityHeaders['Content-Security-Policy'].replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
    )
  })

  it('are served by nginx, always, for the UI', () => {
    const added = Object.fromEntries(
      [...nginx.matchAll(/^\s*add_header\s+(\S+)\s+"([^"]*)"\s+always;$/gm)].map(([, name, value]) => [name, value]),
    )
    expect(added).toEqual(securityHeaders)
  })
})
