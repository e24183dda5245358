// Values for the names a runnable example takes as given (see scripts/check-examples.mjs). Everything here
// listens on 127.0.0.1 only and lets the process exit once the example is done.
import { createServer } from 'node:http';

const partner = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ partner: 'ok', orders: 3 }));
});
await new Promise((resolve) => partner.listen(0, '127.0.0.1', resolve));
partner.unref();

/** A partner's JSON endpoint. */
export const url = `http://127.0.0.1:${partner.address().port}/v1/orders`;
