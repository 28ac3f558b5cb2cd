// `ct lint` (chart-testing) on the chart, as a chart repository's CI runs it: Chart.yaml against
// ct's schema, yamllint on Chart.yaml and values.yaml, and helm lint with the defaults and every
// ci/*-values.yaml. Works in a fresh clone: the chart is named (no git diff against a remote),
// the version increment is not checked, and maintainers are not looked up online.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { ensureChartTesting } from './chart-testing.js';
import { CHART_DIR, scenarioFiles } from './render.js';

const run = promisify(execFile);

test('ct lint passes the chart with the defaults and every ci/ scenario', async (t) => {
  // The first run on a machine builds ct with Go and a virtualenv for yamllint and yamale.
  t.timeout(10 * 60_000);
  const ct = await ensureChartTesting();
  const { stdout } = await run(
    ct.ct,
    ['lint', '--charts', CHART_DIR, '--check-version-increment=false', '--validate-maintainers=false', '--chart-yaml-schema', ct.chartSchema, '--lint-conf', ct.lintConf],
    { env: ct.env, maxBuffer: 16 * 1024 * 1024 },
  ).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`ct lint failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  });
  t.regex(stdout, /All charts linted successfully/);
  for (const scenario of scenarioFiles()) t.true(stdout.includes(`ci/${scenario}`), `linted with ci/${scenario}`);
  t.notRegex(stdout, /\[(WARNING|ERROR)\]/);
});
