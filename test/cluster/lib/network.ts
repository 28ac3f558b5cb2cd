// The host side of the cluster's network. Safety first: the pods live on our own bridge, the
// service range is routed onto it, the rest of the pod supernet is a blackhole, and a guard in
// mangle FORWARD (which no network plugin rewrites) drops anything a pod sends beyond the cluster
// or anything else sends to a pod. Down removes all of it, plus every iptables rule and ipset that
// the kubelet, kube-proxy and kube-router made (theirs all carry the KUBE- / kube-router prefix).
import { readFile, writeFile } from 'node:fs/promises';
import { BRIDGE, CLUSTER_CIDR, INTERNET_CIDR, NODE2_LINK, NODE_IP, type NodeSpec, POD_CIDR, SERVICE_CIDR, paths } from './config.js';
import { run, tryRun } from './exec.js';

const GUARD_CHAIN = 'V6CLUSTER-GUARD';
const OURS = /^(KUBE-|V6CLUSTER-|kube-router)/;

/** Settings the kubelet, kube-proxy and we change on the host; recorded at up, put back at down. */
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

async function recordSysctls(): Promise<void> {
  const saved: Record<string, string> = {};
  for (const key of SYSCTLS) {
    const value = await readFile(`/proc/sys/${key}`, 'utf8').catch(() => undefined);
    if (value !== undefined) saved[key] = value.trim();
  }
  await writeFile(paths.sysctls, JSON.stringify(saved, null, 2), { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error; // a second up keeps the values from before the first
  });
}

async function restoreSysctls(): Promise<void> {
  const saved = JSON.parse(await readFile(paths.sysctls, 'utf8').catch(() => '{}')) as Record<string, string>;
  for (const [key, value] of Object.entries(saved)) await writeFile(`/proc/sys/${key}`, value).catch(() => undefined);
}

async function ensureRoute(route: string[]): Promise<void> {
  await run('ip', ['route', 'replace', ...route]);
}

/**
 * Forwarded traffic stays within the cluster: pods and nodes reach each other and the stand-in for
 * the internet (TEST-NET-2, never routed outside: the node suite's listener), nothing else.
 */
const GUARD_RULES: string[][] = [
  ['-s', CLUSTER_CIDR, '-d', CLUSTER_CIDR, '-j', 'RETURN'],
  ['-s', CLUSTER_CIDR, '-d', INTERNET_CIDR, '-j', 'RETURN'],
  ['-s', INTERNET_CIDR, '-d', CLUSTER_CIDR, '-j', 'RETURN'],
  ['-s', CLUSTER_CIDR, '-j', 'DROP'],
  ['-d', CLUSTER_CIDR, '-j', 'DROP'],
];

async function ensureGuard(): Promise<void> {
  if ((await tryRun('iptables', ['-t', 'mangle', '-S', GUARD_CHAIN])) === undefined) {
    await run('iptables', ['-t', 'mangle', '-N', GUARD_CHAIN]);
  }
  const current = await run('iptables', ['-t', 'mangle', '-S', GUARD_CHAIN]);
  const wanted = GUARD_RULES.map((rule) => `-A ${GUARD_CHAIN} ${rule.join(' ')}`);
  if (current.split('\n').filter((l) => l.startsWith('-A ')).join('\n') !== wanted.join('\n')) {
    await run('iptables', ['-t', 'mangle', '-F', GUARD_CHAIN]);
    for (const rule of GUARD_RULES) await run('iptables', ['-t', 'mangle', '-A', GUARD_CHAIN, ...rule]);
  }
  if ((await tryRun('iptables', ['-t', 'mangle', '-C', 'FORWARD', '-j', GUARD_CHAIN])) === undefined) {
    await run('iptables', ['-t', 'mangle', '-I', 'FORWARD', '1', '-j', GUARD_CHAIN]);
  }
}

/** The bridge, routes, kernel settings and guard that the node needs before containerd starts. */
export async function setUpHostNetwork(): Promise<void> {
  await recordSysctls();
  if ((await tryRun('ip', ['link', 'show', BRIDGE])) === undefined) {
    await run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  }
  await run('ip', ['addr', 'replace', `${NODE_IP}/${POD_CIDR.split('/')[1]}`, 'dev', BRIDGE]);
  await run('ip', ['link', 'set', BRIDGE, 'up']);
  await ensureRoute([SERVICE_CIDR, 'dev', BRIDGE, 'src', NODE_IP]);
  await ensureRoute(['blackhole', CLUSTER_CIDR]);
  await ensureGuard();
  await writeFile('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
}

/** The command line that runs a program in the node's network namespace (the host's for the first node). */
export function inNode(node: NodeSpec, command: string, args: string[]): [string, string[]] {
  return node.netns === undefined ? [command, args] : ['nsenter', [`--net=/var/run/netns/${node.netns}`, command, ...args]];
}

/**
 * A node in its own network namespace: a veth pair to the host, the host routing the node's pod
 * range to it, forwarding and bridge netfilter on inside (both are per namespace). Its pods'
 * bridge is made by CNI. Whatever it sends off the cluster reaches the host's guard.
 */
export async function setUpNodeNetwork(node: NodeSpec): Promise<void> {
  const netns = node.netns;
  if (netns === undefined) return;
  const inside = (args: string[]) => run('ip', ['-n', netns, ...args]);
  if ((await tryRun('ip', ['netns', 'pids', netns])) === undefined) await run('ip', ['netns', 'add', netns]);
  if ((await tryRun('ip', ['link', 'show', NODE2_LINK.host])) === undefined) {
    await run('ip', ['link', 'add', NODE2_LINK.host, 'type', 'veth', 'peer', 'name', NODE2_LINK.node, 'netns', netns]);
  }
  await run('ip', ['addr', 'replace', `${NODE2_LINK.hostIp}/${NODE2_LINK.prefix}`, 'dev', NODE2_LINK.host]);
  await run('ip', ['link', 'set', NODE2_LINK.host, 'up']);
  await inside(['addr', 'replace', `${node.ip}/${NODE2_LINK.prefix}`, 'dev', NODE2_LINK.node]);
  await inside(['link', 'set', NODE2_LINK.node, 'up']);
  await inside(['link', 'set', 'lo', 'up']);
  await inside(['route', 'replace', 'default', 'via', NODE2_LINK.hostIp]);
  await ensureRoute([node.podCidr, 'via', node.ip, 'dev', NODE2_LINK.host]);
  for (const key of ['net/ipv4/ip_forward', 'net/bridge/bridge-nf-call-iptables']) {
    await run('nsenter', [`--net=/var/run/netns/${netns}`, 'sh', '-c', `echo 1 > /proc/sys/${key}`]);
  }
}

/** Splits one iptables-save rule into arguments, keeping "quoted comments" whole. */
export function ruleArguments(rule: string): string[] {
  return [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? '')));
}

/** What to delete from one table's iptables-save output: rules that lead into our chains, then our chains. */
export function ownedInTable(save: string, owned: RegExp = OURS): { rules: string[][]; chains: string[] } {
  const chains = [...save.matchAll(/^:(\S+)/gm)].map((m) => m[1] ?? '').filter((c) => owned.test(c));
  const rules = save
    .split('\n')
    .filter((line) => line.startsWith('-A '))
    .map(ruleArguments)
    .filter((args) => !owned.test(args[1] ?? '') && args.some((a, i) => (args[i - 1] === '-j' || args[i - 1] === '-g') && owned.test(a)));
  return { rules, chains };
}

/** Removes the chains `owned` names, and the rules that lead into them, in `node`'s network namespace (the host's by default). */
export async function sweepFirewall(binary: 'iptables' | 'ip6tables', owned: RegExp = OURS, node?: NodeSpec): Promise<void> {
  const inHere = (command: string, args: string[]) => tryRun(...(node === undefined ? ([command, args] as const) : inNode(node, command, args)));
  for (const table of ['filter', 'nat', 'mangle', 'raw']) {
    const save = await inHere(`${binary}-save`, ['-t', table]);
    if (save === undefined) continue;
    const { rules, chains } = ownedInTable(save, owned);
    for (const rule of rules) await inHere(binary, ['-t', table, '-D', ...rule.slice(1)]);
    for (const chain of chains) await inHere(binary, ['-t', table, '-F', chain]);
    for (const chain of chains) await inHere(binary, ['-t', table, '-X', chain]);
  }
}

async function sweepIpsets(): Promise<void> {
  const names = ((await tryRun('ipset', ['list', '-n'])) ?? '').split('\n').filter((n) => OURS.test(n));
  for (const name of names) await tryRun('ipset', ['flush', name]);
  for (const name of names) await tryRun('ipset', ['destroy', name]);
}

/** Everything setUpHostNetwork and the cluster's components changed on the host, undone. */
export async function tearDownHostNetwork(nodes: NodeSpec[]): Promise<void> {
  // A node's namespace takes its veth pair, bridge, iptables rules and ipsets with it.
  for (const node of nodes) if (node.netns !== undefined) await tryRun('ip', ['netns', 'del', node.netns]);
  await sweepFirewall('iptables');
  await sweepFirewall('ip6tables');
  await sweepIpsets();
  await tryRun('ip', ['route', 'del', 'blackhole', CLUSTER_CIDR]);
  await tryRun('ip', ['link', 'del', BRIDGE]);
  await restoreSysctls();
}
