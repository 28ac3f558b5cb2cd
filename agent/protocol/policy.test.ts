import test from 'ava';
import { readFileSync } from 'node:fs';
import { isImageAllowed, isRegexPattern, matchesAllowedImage, type NodePolicies, type PolicyDeps, type PolicyTask } from './policy.js';

interface ServerRequest {
  endpoint: string;
  params: { name: string } | null;
}
interface PolicyCase {
  group: string;
  id: string;
  policies: NodePolicies;
  image: string;
  task_info: PolicyTask;
  allowed: boolean;
  trace: { digest_lookups: string[]; server_requests: ServerRequest[] };
}
const vectors = JSON.parse(readFileSync(new URL('../../test/fixtures/vectors/policy.json', import.meta.url), 'utf8')) as {
  digest_table: Record<string, string>;
  server_fixture: { algorithmstore: Record<string, { id: number; url: string }>; organization: { id: number; name: string }[] };
  regex_detection: { input: string; _is_regex_pattern: boolean }[];
  cases: PolicyCase[];
};

/** The vectors' outside world, recording what is asked of it as the upstream trace does. */
function recordingDeps(): { deps: PolicyDeps; digestLookups: string[]; serverRequests: ServerRequest[] } {
  const digestLookups: string[] = [];
  const serverRequests: ServerRequest[] = [];
  const deps: PolicyDeps = {
    digestOf(ref) {
      digestLookups.push(ref);
      return Promise.resolve(vectors.digest_table[ref]);
    },
    storeUrl(storeId) {
      serverRequests.push({ endpoint: `algorithmstore/${storeId}`, params: null });
      return Promise.resolve(vectors.server_fixture.algorithmstore[String(storeId)]?.url);
    },
    organizationsByName(name) {
      serverRequests.push({ endpoint: 'organization', params: { name } });
      return Promise.resolve(vectors.server_fixture.organization.filter((org) => org.name === name));
    },
  };
  return { deps, digestLookups, serverRequests };
}

for (const c of vectors.cases) {
  test(`${c.group} ${c.id}`, async (t) => {
    const { deps, digestLookups, serverRequests } = recordingDeps();
    const decision = await isImageAllowed(c.policies, c.image, c.task_info, deps);
    t.log(decision.reason);
    t.deepEqual(
      { allowed: decision.allowed, sentence: /^[A-Z].*\.$/.test(decision.reason), digestLookups, serverRequests },
      { allowed: c.allowed, sentence: true, digestLookups: c.trace.digest_lookups, serverRequests: c.trace.server_requests },
      c.id,
    );
  });
}

for (const c of vectors.regex_detection) {
  test(`regex detection ${JSON.stringify(c.input)}`, (t) => {
    t.is(isRegexPattern(c.input), c._is_regex_pattern, c.input);
  });
}

test('matchesAllowedImage: the registry-free part of an allow-list entry', (t) => {
  const pairs: [entry: string, image: string][] = [
    ['harbor2.vantage6.ai/demo/average', 'harbor2.vantage6.ai/demo/average:4'],
    ['harbor2.vantage6.ai/demo/average:4', 'harbor2.vantage6.ai/demo/average:4'],
    ['harbor2\\.vantage6\\.ai/demo/.*', 'harbor2.vantage6.ai/demo/x:1'],
    ['harbor2.vantage6.ai/demo/average:4', 'harbor2.vantage6.ai/demo/average:5'],
    ['vantage6\\.ai/.*', 'harbor2.vantage6.ai/demo/x'],
    ['some.name', 'someXname'],
    ['(unclosed', '(unclosed'],
    ['-gecko.com/image', '-gecko.com/image'],
  ];
  t.deepEqual(
    pairs.map(([entry, image]) => matchesAllowedImage(entry, image)),
    [true, true, true, false, false, false, false, false],
  );
});

test('an invalid regular expression in a policy denies, naming the entry', async (t) => {
  const { deps } = recordingDeps();
  const task = { init_org: { id: 2 }, init_user: { id: 7 }, algorithm_store: { id: 1 } };
  const decisions = await Promise.all([
    isImageAllowed({ allowed_algorithms: ['x/y', '(unclosed'] }, 'x/z:1', task, deps),
    isImageAllowed({ allowed_algorithm_stores: ['https://[bad'], allow_either_whitelist_or_store: true }, 'x/z:1', task, deps),
  ]);
  t.deepEqual(
    decisions.map((d) => ({ allowed: d.allowed, names: d.reason.includes('not a valid regular expression') })),
    [
      { allowed: false, names: true },
      { allowed: false, names: true },
    ],
  );
});
