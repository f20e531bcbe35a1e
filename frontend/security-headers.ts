// The security headers of the UI, served by `vite preview` (and so by infra/run.sh),
// by nginx (infra/docker/nginx.conf, checked against this list by
// src/security-headers.spec.ts) and, on AWS, by a CloudFront response headers policy
// (docs/ui.md).
//
// The built app needs nothing but its own origin: the scripts and styles are files
// (no inline <script>, <style> or style attribute in index.html; Vue's style bindings
// go through the CSSOM, which CSP does not restrict), and the API and the event
// WebSocket are same-origin (`connect-src 'self'` matches ws: and wss: of the page's
// own host).

/** A directive per entry, joined with "; ". */
export function policy(directives: Record<string, string>): string {
  return Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join('; ')
}

export const contentSecurityPolicy = {
  'default-src': "'self'",
  'script-src': "'self'",
  'style-src': "'self'",
  'img-src': "'self' data:",
  'connect-src': "'self'",
  'font-src': "'self'",
  'object-src': "'none'",
  'base-uri': "'self'",
  'form-action': "'self'",
  'frame-ancestors': "'none'",
}

/** Powerful features the shop does not use, denied to the page and any frame. */
export const deniedFeatures = [
  'accelerometer',
  'autoplay',
  'camera',
  'display-capture',
  'encrypted-media',
  'fullscreen',
  'geolocation',
  'gyroscope',
  'hid',
  'magnetometer',
  'microphone',
  'midi',
  'payment',
  'picture-in-picture',
  'publickey-credentials-get',
  'screen-wake-lock',
  'serial',
  'usb',
  'xr-spatial-tracking',
]

export const securityHeaders: Record<string, string> = {
  'Content-Security-Policy': policy(contentSecurityPolicy),
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Permissions-Policy': deniedFeatures.map((feature) => `${feature}=()`).join(', '),
  'Cross-Origin-Opener-Policy': 'same-origin',
}

/**
 * The dev server's (`npm run dev`): the same, but Vite's hot reload injects each
 * module's CSS as a <style> element, so styles may be inline there. The HMR WebSocket
 * is same-origin, covered by `connect-src 'self'`.
 */
export const devSecurityHeaders: Record<string, string> = {
  ...securityHeaders,
  'Content-Security-Policy': policy({ ...contentSecurityPolicy, 'style-src': "'self' 'unsafe-inline'" }),
}
