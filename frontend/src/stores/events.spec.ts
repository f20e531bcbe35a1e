import { describe, expect, it } from 'vitest'
import { backoff, eventsUrl } from './events'

describe('event connection', () => {
  it('resumes after the last id, over ws or wss as the page', () => {
    const http = { protocol: 'http:', host: 'localhost:5173' } as Location
    expect(eventsUrl('', '', http, 'tok', 7)).toBe('ws://localhost:5173/v1/events?access_token=tok&after=7')
    const https = { protocol: 'https:', host: 'shop.example.com' } as Location
    expect(eventsUrl('', '', https, 'tok', 0)).toBe('wss://shop.example.com/v1/events?access_token=tok&after=0')
    expect(eventsUrl('', 'https://api.example.com', http, 't', 1)).toBe('wss://api.example.com/v1/events?access_token=t&after=1')
  })

  it('uses the WebSocket API of the deployment when one is configured', () => {
    const https = { protocol: 'https:', host: 'shop.example.com' } as Location
    const aws = 'wss://abc123.execute-api.eu-west-1.amazonaws.com/live'
    expect(eventsUrl(aws, 'https://api.example.com', https, 'tok', 3)).toBe(
      'wss://abc123.execute-api.eu-west-1.amazonaws.com/live?access_token=tok&after=3',
    )
  })

  it('backs off from half a second to ten', () => {
    expect([0, 1, 2, 3, 4, 5, 10].map(backoff)).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000])
  })
})
