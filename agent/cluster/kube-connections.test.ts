import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { reuseConnections } from './kube-connections.js';

/** An API server stand-in that answers every GET with an empty Secret and counts TCP connections. */
async function countingServer(t: { teardown(fn: () => void): void }): Promise<{ server: Server; connections: () => number; url: string }> {
  let connections = 0;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }));
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return { server, connections: () => connections, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function kubeConfigFor(url: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  // skipTLSVerify gives client-node TLS options, the path on which it made a new agent per call.
  kubeConfig.loadFromClusterAndUser({ name: 'c', server: url, skipTLSVerify: true }, { name: 'u', token: 't' });
  return kubeConfig;
}

const CALLS = 20;

async function calls(kubeConfig: KubeConfig): Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  for (let i = 0; i < CALLS; i += 1) await core.readNamespacedSecret({ name: 's', namespace: 'n' });
}

test('client-node alone opens a connection per call (what reuseConnections is for)', async (t) => {
  const { url, connections } = await countingServer(t);
  await calls(kubeConfigFor(url));
  t.is(connections(), CALLS);
});

test('with reuseConnections the calls of a cluster and user share kept-alive connections', async (t) => {
  const { url, connections } = await countingServer(t);
  const pooled = reuseConnections(kubeConfigFor(url));
  await calls(pooled.kubeConfig);
  // One pool: undici may open a second connection when a call starts before the previous
  // answer's end has freed the first (seen here: two for twenty sequential calls, as with a bare
  // undici Agent), but never one per call.
  t.true(connections() <= 2, `${connections()} connections for ${CALLS} calls`);
  await pooled.close();
  await pooled.close();
});

test('two agents on one KubeConfig have pools of their own: closing one leaves the other working', async (t) => {
  const { url } = await countingServer(t);
  const shared = kubeConfigFor(url);
  const first = reuseConnections(shared);
  const second = reuseConnections(shared);
  await calls(first.kubeConfig);
  await calls(second.kubeConfig);
  await first.close();
  await t.notThrowsAsync(calls(second.kubeConfig));
  await t.notThrowsAsync(calls(shared), 'the KubeConfig itself is untouched');
  await second.close();
});
