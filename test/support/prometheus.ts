// Reading what Prometheus would read: the text exposition format, the metric names a PromQL
// expression selects, and the metrics the README documents.
import { readFile } from 'node:fs/promises';

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Scrape {
  readonly samples: Sample[];
  /** Metric family name → TYPE. */
  readonly types: Map<string, string>;
}

/** Parses the Prometheus text format (0.0.4): samples and TYPE lines. */
export function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: match[3] === '+Inf' ? Infinity : Number(match[3]) });
  }
  return { samples, types };
}

/** The samples of one series name, optionally filtered by labels. */
export function series(scrape: Scrape, name: string, labels: Record<string, string> = {}): Sample[] {
  return scrape.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The sum of the values of one series name (with the labels given). */
export function total(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  return series(scrape, name, labels).reduce((sum, s) => sum + s.value, 0);
}

/** The metric family of a sample name: histogram and summary series map to their family. */
export function familyOf(scrape: Scrape, sampleName: string): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = sampleName.slice(0, -suffix.length);
    if (sampleName.endsWith(suffix) && (scrape.types.get(base) === 'histogram' || scrape.types.get(base) === 'summary')) return base;
  }
  return sampleName;
}

const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);

/** The metric names a PromQL expression selects (functions, label matchers, grouping labels, ranges and Grafana variables left out). */
export function metricNamesOf(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (match[2] !== undefined) continue; // a function call
    if (PROMQL_KEYWORDS.has(match[1]!.toLowerCase())) continue;
    names.add(match[1]!);
  }
  return [...names];
}

/** Every PromQL expression of a Grafana dashboard: panel targets (rows' nested panels too) and query variables. */
export function dashboardExpressions(dashboard: unknown): string[] {
  const found: string[] = [];
  const visit = (node: unknown, key?: string): void => {
    if (Array.isArray(node)) return node.forEach((item) => visit(item));
    if (node === null || typeof node !== 'object') {
      if (typeof node === 'string' && (key === 'expr' || key === 'query' || key === 'definition') && /[a-z_]+\(|[a-z]_[a-z]/.test(node)) found.push(node);
      return;
    }
    for (const [k, v] of Object.entries(node)) visit(v, k);
  };
  visit(dashboard);
  // label_values(metric, label) is Grafana's, not PromQL: its metric is what counts.
  return found.map((expr) => expr.replace(/label_values\(\s*([^,)]+?)\s*(?:,[^)]*)?\)/g, '$1'));
}

/** The metric names in the first column of the README's Metrics table. */
export async function documentedMetrics(): Promise<string[]> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.split('\n## Metrics\n')[1]?.split('\n## ')[0] ?? '';
  return [...section.matchAll(/^\| `([a-z_:][a-z0-9_:]*)` \|/gm)].map((m) => m[1]!);
}
