// The agent of the dispatch benchmark in a process of its own, so its RSS is the agent's alone.
// Config (already parsed) as JSON in V6_BENCH_CONFIG, the kubeconfig path in KUBECONFIG; stops on SIGTERM.
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { Config } from '../../agent/config.js';
import { NodeAgent } from '../../agent/node-agent.js';

const config = JSON.parse(process.env.V6_BENCH_CONFIG ?? '') as Config;
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(process.env.KUBECONFIG ?? '');
const agent = await NodeAgent.start({ config, logger: pino({ level: process.env.V6_BENCH_LOG ?? 'warn' }), kubeConfig });
process.send?.('ready');
process.once('SIGTERM', () => void agent.close().then(() => process.exit(0)));
