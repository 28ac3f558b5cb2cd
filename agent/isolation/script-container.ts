// The isolation probe and the isolation gate are small scripts run with `node -e` in the agent's
// own image (`isolation.image`), in containers hardened like an algorithm's. Pure.
import type { V1Container } from '@kubernetes/client-node';
import { restrictedContainerSecurityContext } from '../kube/hardening.js';

/**
 * `connect(host, port, ms)` for the scripts run with `node -e` (CommonJS, node:net only): resolves
 * `connected`, `timeout`, or the error's code (`ECONNREFUSED`, …); never rejects.
 */
export const CONNECT_FUNCTION = `
const net = require('node:net');
function connect(host, port, ms) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) });
    const done = (result) => { clearTimeout(timer); socket.destroy(); resolve(result); };
    const timer = setTimeout(() => done('timeout'), ms);
    socket.once('connect', () => done('connected'));
    socket.once('error', (error) => done(error.code || error.message));
  });
}`.trim();

/** A container running `script` with `node -e`, its variables `env`; small, hardened, its output the termination message on failure. */
export function scriptContainer(name: string, image: string, script: string, env: Record<string, string>): V1Container {
  return {
    name,
    image,
    imagePullPolicy: 'IfNotPresent',
    command: ['node', '-e', script],
    env: Object.entries(env).map(([envName, value]) => ({ name: envName, value })),
    resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: restrictedContainerSecurityContext(),
  };
}
