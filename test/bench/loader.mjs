// The load generator of http.mjs, in a process of its own: each message { url, connections, seconds }
// runs autocannon once against that URL and answers with the figures http.mjs needs.
import autocannon from 'autocannon';

if (typeof process.send !== 'function') {
  console.error('loader.mjs is started by http.mjs (child_process.fork), not on its own.');
  process.exit(2);
}

process.on('message', async ({ id, url, connections, seconds }) => {
  try {
    if (!url.startsWith('http://127.0.0.1:')) throw new Error(`refusing to load ${url}: 127.0.0.1 only`);
    const result = await autocannon({ url, connections, duration: seconds, timeout: 5 });
    process.send({
      id,
      rps: result.requests.total / result.duration,
      p99: result.latency.p99,
      total: result.requests.total,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCodes: result.statusCodeStats,
    });
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) });
  }
});

// Stop with the parent, whatever happens to it.
process.on('disconnect', () => process.exit(0));
