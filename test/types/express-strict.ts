// Compiled by `pnpm typecheck` under strict settings, never run: the middleware as a typed Express 5 app
// uses it, wherever it goes (a route, `app.use`, `app.use(path, …)`, a Router), with no type arguments
// and no casts. The callbacks get Express's own Request and Response.
import express, { Router, type RequestHandler } from 'express';
import { breakerSignal, circuitBreaker } from '@breaker/express';

const app = express();
const cached = { base: 'EUR', rates: { USD: 1.08 } };
const handler: RequestHandler = (_req, res) => {
  res.json(cached);
};

app.get(
  '/rates',
  circuitBreaker({
    name: 'rates',
    fallback: (_req, res, info) => res.set('X-Fallback', info.reason).json(cached),
  }),
  handler,
);
app.use(circuitBreaker({ name: 'partner', key: (req) => req.path }));
app.use(
  '/api',
  circuitBreaker({
    name: 'api',
    key: (req) => req.hostname,
    fallback: (req, res) => res.status(200).send(req.originalUrl),
  }),
);

const router = Router();
router.get(
  '/quotes/:id',
  circuitBreaker({ name: 'quotes', key: (req) => req.get('x-tenant') ?? 'anonymous' }),
  async (req, res) => {
    const upstream = await fetch(`http://127.0.0.1:8080/quotes/${req.params.id}`, {
      signal: breakerSignal(req),
    });
    res.status(upstream.status).json(await upstream.json());
  },
);
app.use(router);
