// The network is real: pods reach each other through the CNI bridge, a default-deny
// NetworkPolicy is enforced (kube-router's iptables rules), a Service name resolves (CoreDNS)
// and answers through its ClusterIP (kube-proxy's iptables rules).
import test, { type ExecutionContext } from 'ava';
import { NODE_COUNT } from '../lib/config.js';
import { LOCAL_CLUSTER, apply, busyboxPod, getJson, kubectl, kubectlResult, podStatus, testNamespace, until, waitForPodPhase } from './kube.js';

const PORT = 8080;
/** busybox httpd serving one page that names the pod. */
const SERVER = `mkdir -p /tmp/www && echo "hello from $(hostname)" > /tmp/www/index.html && exec httpd -f -p ${PORT} -h /tmp/www`;

/** Starts the server and the client pods (on the given nodes, if any) and returns the server's pod IP. */
async function serverAndClient(ns: string, nodes: { server?: string; client?: string } = {}): Promise<string> {
  const on = (node?: string) => (node === undefined ? {} : { spec: { nodeName: node } });
  await apply(
    ns,
    busyboxPod('server', SERVER, { labels: { app: 'server' }, ...on(nodes.server) }),
    busyboxPod('client', 'sleep 3600', { labels: { app: 'client' }, ...on(nodes.client) }),
  );
  await waitForPodPhase(ns, 'server', 'Running');
  await waitForPodPhase(ns, 'client', 'Running');
  return (await podStatus(ns, 'server')).podIP ?? '';
}

/**
 * The body the client pod gets for GET / from host:port, or undefined when it cannot connect.
 * nc, not wget: Debian's static busybox wget crashes (SIGSEGV) on any request.
 */
async function fetchFromClient(ns: string, host: string, port = PORT): Promise<string | undefined> {
  const request = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}`;
  const result = await kubectlResult(['exec', '-n', ns, 'client', '--', 'sh', '-c', request]);
  const [head, body] = result.stdout.split('\r\n\r\n');
  return head?.startsWith('HTTP/1.') ? body?.trim() : undefined;
}

async function defaultDenyBlocks(t: ExecutionContext, nodes: { server?: string; client?: string }): Promise<void> {
  const ns = await testNamespace(t, 'netpol');
  const serverIp = await serverAndClient(ns, nodes);
  t.is(await fetchFromClient(ns, serverIp), 'hello from server');

  await apply(ns, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
  await until('the policy to block the connection', async () => (await fetchFromClient(ns, serverIp)) === undefined, 60_000);

  // Enforced, not broken: a policy that lets the client in opens it again.
  await apply(ns, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'allow-client' },
    spec: { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] },
  });
  await until('the allow policy to let the client in', async () => (await fetchFromClient(ns, serverIp)) === 'hello from server', 60_000);
  t.pass();
}

test('a default-deny NetworkPolicy blocks a pod-to-pod connection that works without it', (t) => defaultDenyBlocks(t, {}));

// The local cluster has NODE_COUNT nodes; another cluster may have one, and then there is no "across".
(LOCAL_CLUSTER && NODE_COUNT < 2 ? test.skip : test)('across nodes too: the connection works, and the policy blocks it', async (t) => {
  const [first, second] = (await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').sort();
  if (second === undefined) {
    t.log(`the cluster has one node (${first}): nothing runs across nodes`);
    t.pass();
    return;
  }
  await defaultDenyBlocks(t, { client: first, server: second });
});

test('a Service name resolves to its ClusterIP, which answers', async (t) => {
  const ns = await testNamespace(t, 'svc');
  await serverAndClient(ns);
  await apply(ns, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'server' }, ports: [{ port: 80, targetPort: PORT }] } });
  const clusterIp = (await getJson<{ spec: { clusterIP: string } }>(ns, 'service', 'web')).spec.clusterIP;

  const lookup = await kubectl(['exec', '-n', ns, 'client', '--', 'nslookup', `web.${ns}.svc.cluster.local`]);
  t.regex(lookup, new RegExp(`Address: ${clusterIp.replaceAll('.', '\\.')}\\b`));
  // The short name through the pod's search path, and the port mapping through the ClusterIP.
  await until('the Service to answer', async () => (await fetchFromClient(ns, 'web', 80)) === 'hello from server', 30_000);
  t.pass();
});
