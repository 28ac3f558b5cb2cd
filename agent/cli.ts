#!/usr/bin/env node
/**
 * `v6-node`: the command line of the node.
 *   v6-node start --config <file>   run the agent
 *   v6-node proxy --config <file>   run the proxy sidecar
 *   v6-node status --config <file>  the queues and live runs, from Redis and the cluster
 * A bad config exits with code 2 and names every wrong field; a refused API key exits with 1.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, loadConfig, redactedConfig } from './config.js';
import { AgentError, describe } from './errors.js';
import { defaultKubeConfig } from './node-agent.js';
import { serveAgent } from './serve.js';
import { gatherStatus } from './status/gather.js';
import { formatStatus } from './status/report.js';
import { runProxyCommand } from '../proxy/main.js';

const USAGE = `usage: v6-node <command> --config <file>

commands:
  start    run the node agent: take runs from the vantage6 server and run them as Kubernetes Jobs
  proxy    run the proxy that algorithm pods call to reach the vantage6 server
  status   show the queues and the live runs (run, task, image, status, age) from Redis and the cluster

options:
  -c, --config <file>   the node's YAML config (see agent/v6-node.example.yaml)
      --json            status: print JSON instead of a table
      --node-id <id>    status: the vantage6 node id (default: the one the agent recorded in Redis)
  -h, --help            show this help`;

async function start(configPath: string): Promise<void> {
  const { config, warnings } = await loadConfig(configPath, process.env);
  const logger = pino({ level: config.logging.level });
  for (const warning of warnings) logger.warn(warning);
  logger.debug({ config: redactedConfig(config) }, 'configuration');
  const { agent, health } = await serveAgent({ config, logger });
  logger.info({ url: `${health.url}/metrics` }, 'metrics, /livez and /readyz listening');
  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'stopping the agent');
    agent.close().then(() => health.close()).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: describe(error) }, 'the agent did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function status(configPath: string, json: boolean, nodeId: string | undefined): Promise<number> {
  if (nodeId !== undefined && !/^\d+$/.test(nodeId)) {
    console.error(`v6-node status: --node-id must be a number, got '${nodeId}'`);
    return 2;
  }
  const { config } = await loadConfig(configPath, process.env);
  const report = await gatherStatus({ config, kubeConfig: defaultKubeConfig(), ...(nodeId === undefined ? {} : { nodeId: Number(nodeId) }) });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      json: { type: 'boolean' },
      'node-id': { type: 'string' },
    },
  });
  const [command] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (!values.config) {
    console.error(`v6-node ${command}: --config <file> is required\n\n${USAGE}`);
    return 2;
  }
  switch (command) {
    case 'start':
      await start(values.config);
      return 0;
    case 'proxy':
      await runProxyCommand(values.config);
      return 0;
    case 'status':
      return status(values.config, values.json === true, values['node-id']);
    default:
      console.error(`v6-node: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(`v6-node: ${error instanceof AgentError ? error.message : describe(error)}`);
    process.exit(1);
  },
);
