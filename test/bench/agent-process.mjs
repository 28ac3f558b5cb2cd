// The agent of the dispatch benchmark in a process of its own, run from the build (V6_BENCH_DIST,
// default dist/) as in the container image, so its RSS is the agent's alone. Config (already
// parsed) as JSON in V6_BENCH_CONFIG, the kubeconfig path in KUBECONFIG; stops on SIGTERM.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';

const dist = process.env.V6_BENCH_DIST_URL ?? new URL('../../dist', import.meta.url).href;
const { NodeAgent } = await import(`${dist}/agent/node-agent.js`);

const config = JSON.parse(process.env.V6_BENCH_CONFIG ?? '');
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(process.env.KUBECONFIG ?? '');
const agent = await NodeAgent.start({ config, logger: pino({ level: process.env.V6_BENCH_LOG ?? 'warn' }), kubeConfig });
process.send?.('ready');
process.once('SIGTERM', () => void agent.close().then(() => process.exit(0)));
