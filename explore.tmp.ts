import { startNodeWorld } from './test/cluster/node/world.ts';
const world = await startNodeWorld({ algorithms: {} });
console.log(JSON.stringify({ port: world.server.port, sites: [...world.sites.entries()].map(([id, s]) => [id, s.namespace, s.release]) }));
const site = world.sites.get(2)!;
const log = await site.agentLog();
console.log('pod', await site.nodePod(), 'log length', log.length);
process.on('SIGTERM', async () => { await world.close(); process.exit(0); });
setInterval(() => {}, 1 << 30);
