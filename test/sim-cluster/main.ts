// npm run sim:cluster -- --port <port> --images <file> --pvc <claim>=<host dir> ... --state <dir>
// Starts a simulated cluster, prints the kubeconfig path, runs until SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { startSimCluster } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    images: { type: 'string' },
    pvc: { type: 'string', multiple: true, default: [] },
    state: { type: 'string' },
  },
});
if (values.state === undefined) {
  console.error('usage: sim:cluster -- --state <dir> [--port <port>] [--images <file>] [--pvc <claim>=<host dir> ...]');
  process.exit(2);
}
const pvcs: Record<string, string> = {};
for (const entry of values.pvc) {
  const at = entry.indexOf('=');
  if (at <= 0) {
    console.error(`--pvc expects <claim>=<host dir>, got ${entry}`);
    process.exit(2);
  }
  pvcs[entry.slice(0, at)] = entry.slice(at + 1);
}
const cluster = await startSimCluster({
  port: Number(values.port),
  stateDir: values.state,
  ...(values.images === undefined ? {} : { images: values.images }),
  pvcs,
});
console.log(cluster.kubeconfigPath);
const stop = (): void => {
  cluster.close().then(() => process.exit(0), (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
