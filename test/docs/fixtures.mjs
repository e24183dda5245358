// Values for the names a runnable example takes as given (see scripts/check-examples.mjs). Everything here
// listens on 127.0.0.1 only and lets the process exit once the example is done.
import { createServer } from 'node:http';
import express from 'express';
import { BreakerRegistry, CircuitBreaker } from '@breaker/core';

const partner_ = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ partner: 'ok', orders: 3 }));
});
await new Promise((resolve) => partner_.listen(0, '127.0.0.1', resolve));
partner_.unref();

/** A partner's JSON endpoint. */
export const url = `http://127.0.0.1:${partner_.address().port}/v1/orders`;

/** An Express application that is never started: an example adds its routes and middleware to it. */
export const app = express();
export const registry = new BreakerRegistry();
export const breaker = new CircuitBreaker({ name: 'partner' });
export const partner = new CircuitBreaker({ name: 'partner' });
export const tenantId = 'acme';

export const users = { findById: async (id) => ({ id, name: 'Ada' }) };
export const log = { warn: (fields, message) => console.log(message, fields) };
export const metrics = { rejected: { inc: () => {} } };

export async function loadRates(signal) {
  const response = await fetch(url, { signal });
  return response.json();
}
export async function rates(_req, res) {
  res.json({ eur: 1 });
}
export function cachedRates(_req, res) {
  res.json({ eur: 1, cached: true });
}
export const lastGoodRates = cachedRates;
