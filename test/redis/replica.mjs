// A gateway replica in its own process, for tests of the Redis store across processes.
// Usage: node replica.mjs <mode> <redis url> <breaker name>
//   watch       prints "ready", then the wall time at which it sees the breaker open
//   hold-probe  trips the breaker, waits for half-open, holds the fleet's trial permit, prints "holding"
import { CircuitBreaker } from '../../packages/core/dist/index.js';
import { RedisStore } from '../../packages/redis/dist/index.js';

const [mode, url, name] = process.argv.slice(2);
const store = new RedisStore({ url });
const breaker = new CircuitBreaker({
  name,
  store,
  failureThreshold: 1,
  timeout: 300,
  halfOpenPermitTimeout: 800,
});
const deadline = setTimeout(() => process.exit(2), 20_000);
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

while (!store.connected) await wait(5);
if (mode === 'watch') {
  console.log('ready');
  while (breaker.state !== 'open') await wait(1);
  console.log(`open ${Date.now()}`);
} else if (mode === 'hold-probe') {
  await breaker.fire(() => Promise.reject(new Error('down'))).catch(() => {});
  while (breaker.state !== 'half-open') await wait(5);
  for (;;) {
    breaker.fire(() => new Promise(() => {})).catch(() => {});
    if (breaker.stats().halfOpen.inFlight === 1) break;
    await wait(5);
  }
  console.log('holding');
  await wait(60_000);
}
clearTimeout(deadline);
breaker.dispose();
await store.close();
