// The figures a bench run records, so that each can be printed beside the same figure of the
// baseline build measured in the same run (baseline.ts). Parts print as before and also call
// `figure()`; main.ts prints the comparison at the end.
import { writeFileSync } from 'node:fs';

export interface Figure {
  readonly key: string;
  readonly value: number;
  readonly unit: string;
  /** A target, in `unit`, and which side of it is good. */
  readonly target?: { readonly value: number; readonly better: 'lower' | 'higher' };
}

const recorded: Figure[] = [];

export function figure(key: string, value: number, unit: string, target?: Figure['target']): void {
  if (Number.isFinite(value)) recorded.push({ key, value, unit, ...(target ? { target } : {}) });
}

export function recordedFigures(): readonly Figure[] {
  return recorded;
}

/** Writes the figures as JSON to V6_BENCH_FIGURES_OUT, when the bench runs as a baseline. */
export function saveFigures(): void {
  const out = process.env.V6_BENCH_FIGURES_OUT;
  if (out) writeFileSync(out, JSON.stringify(recorded));
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

/** "figure (baseline: X, ratio Y)" per figure; ratio = this build / baseline. */
export function comparison(current: readonly Figure[], baseline: readonly Figure[] | undefined, baselineName: string): string[] {
  const lines = [`figures of this build beside the baseline ${baselineName}, measured in the same run (CPU and time figures are noisy on a shared machine; memory figures and same-run ratios are what count)`];
  const before = new Map((baseline ?? []).map((f) => [f.key, f]));
  for (const f of current) {
    const b = before.get(f.key);
    const base = b === undefined ? 'baseline: not measured' : `baseline: ${fmt(b.value)} ${b.unit}, ratio ${b.value === 0 ? 'n/a' : (f.value / b.value).toFixed(2)}`;
    const target = f.target === undefined ? '' : `; target ${f.target.better === 'lower' ? '≤' : '≥'} ${fmt(f.target.value)} ${f.unit}: ${(f.target.better === 'lower' ? f.value <= f.target.value : f.value >= f.target.value) ? 'met' : 'not met'}`;
    lines.push(`  ${f.key.padEnd(52)} ${fmt(f.value)} ${f.unit} (${base}${target})`);
  }
  return lines;
}
