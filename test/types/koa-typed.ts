// Compiled by `pnpm typecheck` under strict settings, never run: the middleware's callbacks see the
// application's own state and context types, with no type arguments and no casts.
import Koa from 'koa';
import { circuitBreaker } from '@breaker/koa';

interface AppState {
  user: string;
}
interface AppContext {
  requestId: string;
}

const app = new Koa<AppState, AppContext>();
app.use(
  circuitBreaker({
    name: 'partner',
    key: (ctx) => ctx.state.user,
    fallback: (ctx, info) => {
      ctx.set('x-fallback', info.reason);
      ctx.body = { user: ctx.state.user, requestId: ctx.requestId };
    },
  }),
);
