// One gateway replica: an Express app whose "partner" breaker lives in Redis.
import express from 'express';
import { BreakerRegistry } from '@breaker/core';
import { circuitBreaker } from '@breaker/express';
import { RedisStore } from '@breaker/redis';

const { PARTNER_URL, REDIS_URL, REPLICA } = process.env;
const store = new RedisStore({ url: REDIS_URL });
const registry = new BreakerRegistry();
registry.on('add', ({ breaker }) =>
  breaker.on('state-change', ({ from, to, reason }) =>
    process.send?.({ replica: REPLICA, from, to, reason }),
  ),
);

const app = express();
app.get(
  '/quote',
  circuitBreaker({ name: 'partner', registry, store, failureThreshold: 3, timeout: 2_000, callTimeout: 500 }),
  async (req, res) => {
    try {
      const upstream = await fetch(PARTNER_URL, { signal: req.breaker.signal });
      res
        .status(upstream.ok ? 200 : 502)
        .json(upstream.ok ? await upstream.json() : { error: 'partner failed' });
    } catch {
      if (!res.headersSent) res.status(502).json({ error: 'partner failed' });
    }
  },
);
const server = app.listen(0, '127.0.0.1', () =>
  process.send?.({ replica: REPLICA, port: server.address().port }),
);
process.on('disconnect', async () => {
  server.close();
  await store.close();
  process.exit(0);
});
