#!/usr/bin/env node
/**
 * `v6-node`: the command line of the node.
 *   v6-node start --config <file>   run the agent
 *   v6-node proxy --config <file>   run the proxy sidecar
 *   v6-node status --config <file>  the queues and live runs, from Redis and the cluster
 * A bad config exits with code 2 and names every wrong field; a refused API key exits with 1.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, redactedConfig } from './config.js';
import { AgentError, describe } from './errors.js';
import type { ServedAgent } from './serve.js';

const USAGE = `usage: v6-node <command> --config <file>

commands:
  start    run the node agent: take runs from the vantage6 server and run them as Kubernetes Jobs
  proxy    run the proxy that algorithm pods call to reach the vantage6 server
  status   show the queues and the live runs (run, task, image, status, age) from Redis and the cluster

options:
  -c, --config <file>   the node's YAML config (see agent/v6-node.example.yaml)
      --json            status: print JSON instead of a table
      --node-id <id>    status: the vantage6 node id (default: the one the agent recorded in Redis)
  -h, --help            show this help (after a command: that command's)
      --version         print the version`;

/** Each command's own help (`v6-node <command> --help`). */
const COMMAND_USAGE: Readonly<Record<string, string>> = {
  start: `usage: v6-node start --config <file>

Runs the node agent: logs in to the vantage6 server, queues its runs in Redis and runs each as a
Kubernetes Job; serves /metrics, /livez and /readyz on metrics.port. Stops on SIGTERM or SIGINT.
A bad config exits with code 2, naming every wrong field.`,
  proxy: `usage: v6-node proxy --config <file>

Runs the proxy that algorithm pods call to reach the vantage6 server, on proxy.listen_port, with
its own /metrics, /livez and /readyz on metrics.proxy_port. Stops on SIGTERM or SIGINT.`,
  status: `usage: v6-node status --config <file> [--json] [--node-id <id>]

Shows the queues and the live runs (run, task, image, status, age) from Redis and the cluster,
without calling the server.`,
};

/** The version in the package.json above this module (source or build). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'v6-node') return pkg.version ?? 'unknown';
    } catch {
      // no package.json here: look further up
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

// Each command loads only the modules it runs (the proxy never loads the agent's Kubernetes client).
async function start(configPath: string): Promise<void> {
  const { config, warnings } = await loadConfig(configPath, process.env);
  const { pino } = await import('pino');
  const { serveAgent } = await import('./serve.js');
  // Written synchronously: the lines logged just before the process exits are never lost.
  const logger = pino({ level: config.logging.level }, pino.destination({ dest: 1, sync: true }));
  for (const warning of warnings) logger.warn(warning);
  logger.debug({ config: redactedConfig(config) }, 'configuration');
  // Handled from the start: a signal while the agent still logs in (the server away) stops it too.
  let served: ServedAgent | undefined = undefined;
  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'stopping the agent');
    if (served === undefined) {
      logger.info('stopped before the agent had started');
      process.exit(0);
    }
    // close() never rejects and bounds every step; what it could not finish is logged, and
    // queue jobs left active are handed back through their Redis lock.
    void served.close().then((unfinished) => {
      if (unfinished.length === 0) logger.info('stopped');
      else logger.warn({ unfinished: unfinished.map((step) => step.name) }, `stopped without finishing: ${unfinished.map((step) => step.name).join(', ')}`);
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  served = await serveAgent({ config, logger });
  logger.info({ url: `${served.health.url}/metrics` }, 'metrics, /livez and /readyz listening');
}

async function status(configPath: string, json: boolean, nodeId: string | undefined): Promise<number> {
  if (nodeId !== undefined && !/^\d+$/.test(nodeId)) {
    console.error(`v6-node status: --node-id must be a number, got '${nodeId}'`);
    return 2;
  }
  const { config } = await loadConfig(configPath, process.env);
  const { defaultKubeConfig } = await import('./node-agent.js');
  const { gatherStatus } = await import('./status/gather.js');
  const { formatStatus } = await import('./status/report.js');
  const report = await gatherStatus({ config, kubeConfig: defaultKubeConfig(), ...(nodeId === undefined ? {} : { nodeId: Number(nodeId) }) });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  return 0;
}

function parsedArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
      json: { type: 'boolean' },
      'node-id': { type: 'string' },
    },
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parsedArgs>;
  try {
    parsed = parsedArgs(argv);
  } catch (error) {
    // parseArgs says what is wrong (an unknown option, a missing value): a usage error, as the others.
    console.error(`v6-node: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command] = positionals;
  if (values.version) {
    console.log(`v6-node ${version()}`);
    return 0;
  }
  if (values.help || command === undefined) {
    console.log((command === undefined ? undefined : COMMAND_USAGE[command]) ?? USAGE);
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
      await (await import('../proxy/main.js')).runProxyCommand(values.config);
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
