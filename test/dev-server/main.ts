// `npm run sim:server -- --port <port> [--host h] [--api-path /api] [--blob-store]
//  [--token-lifetime <seconds>]`: starts the development server, prints its fixtures and URL as
// ONE JSON line on stdout, and runs until SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { startDevServer } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'api-path': { type: 'string', default: '/api' },
    'blob-store': { type: 'boolean', default: false },
    'token-lifetime': { type: 'string' },
  },
});

const server = await startDevServer({
  port: Number(values.port),
  host: values.host,
  apiPath: values['api-path'],
  blobStoreEnabled: values['blob-store'],
  accessTokenLifetimeSeconds: values['token-lifetime'] === undefined ? undefined : Number(values['token-lifetime']),
});

console.log(JSON.stringify({ url: server.url, api_path: server.apiPath, port: server.port, ...server.fixtures }));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
