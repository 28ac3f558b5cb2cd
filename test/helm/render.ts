// Runs the real helm binary over the chart: lint, and template into parsed objects.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ensureHelm } from './install-helm.js';

const run = promisify(execFile);

export const CHART_DIR = resolve(import.meta.dirname, '..', '..', 'helm', 'v6-node');
export const RELEASE = 'site-a';
export const NAMESPACE = 'vantage6-node';

/** A rendered Kubernetes object, loosely typed: the tests narrow it per kind. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The `ci/*-values.yaml` scenarios, by file name. */
export function scenarioFiles(): string[] {
  return readdirSync(join(CHART_DIR, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort();
}

export async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const bin = await ensureHelm();
  return run(bin, args, { maxBuffer: 32 * 1024 * 1024, env: { ...process.env, HELM_CACHE_HOME: '/nonexistent-helm-cache' } });
}

/** `helm template` with the given values files (relative to the chart's ci/ folder) and --set pairs. */
export async function render(options: { scenario?: string; set?: string[]; namespace?: string } = {}): Promise<K8sObject[]> {
  const args = ['template', RELEASE, CHART_DIR, '--namespace', options.namespace ?? NAMESPACE];
  if (options.scenario !== undefined) args.push('--values', join(CHART_DIR, 'ci', options.scenario));
  for (const pair of options.set ?? []) args.push('--set', pair);
  const { stdout } = await helm(args);
  return parseAllDocuments(stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`helm template produced invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** Every scenario: the defaults and each ci/ values file. */
export const SCENARIOS: ReadonlyArray<string | undefined> = [undefined, ...scenarioFiles()];
