// W3C Trace Context (https://www.w3.org/TR/trace-context/): each call to the API
// starts a trace of its own, which the gateway continues through the saga to every
// service and table it reaches. An order keeps the trace it was placed in (`trace_id`).

/** A `traceparent` for a new, sampled trace: version 00, a random trace id and span id. */
export function newTraceparent(random: (bytes: number) => Uint8Array = randomBytes): string {
  return `00-${nonZeroHex(random, 16)}-${nonZeroHex(random, 8)}-01`
}

function randomBytes(bytes: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(bytes))
}

/** All zeros is the spec's "invalid" id: draw again. */
function nonZeroHex(random: (bytes: number) => Uint8Array, bytes: number): string {
  for (;;) {
    const drawn = random(bytes)
    if (drawn.some((byte) => byte !== 0)) {
      return Array.from(drawn, (byte) => byte.toString(16).padStart(2, '0')).join('')
    }
  }
}

/** The request, with a new trace unless it already carries one. */
export function traced(request: Request): Request {
  if (!request.headers.has('traceparent')) request.headers.set('traceparent', newTraceparent())
  return request
}
