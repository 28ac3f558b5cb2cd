/**
 * The node's algorithm policies (config `policies:`, spec A9), with the semantics of vantage6 4.14
 * `DockerManager.is_docker_image_allowed` and `NodeClient.check_user_allowed_to_send_task`.
 *
 * Order: basics image → initiating user/organization → `allowed_algorithms` → store allow-list;
 * the last two combine with AND, or OR under `allow_either_whitelist_or_store`. An unset or empty
 * list allows everything. An allow-list entry is a regular expression if it holds one of
 * `* \ ? $ ^ [ ] ( ) { } | +` (a plain '.' does not count) and then matches like Python's
 * `re.match`: anchored at the start only, against the full reference including the tag. Any other
 * entry allows the identical reference, the same name with any tag (if the entry has no tag), or
 * the same name with another tag or digest when both resolve to the same registry digest.
 */
import { imageWithoutTag } from './images.js';

/** The vantage6 policy keys, as in the node configuration. */
export interface NodePolicies {
  allowed_algorithms?: string | readonly string[] | null;
  allowed_algorithm_stores?: string | readonly string[] | null;
  /** Organization ids (as strings: vantage6 compares `str(id)`, so numbers never match) or names. */
  allowed_organizations?: readonly (string | number)[] | null;
  /** User ids as strings (numbers never match, as upstream). Usernames are not checked upstream either. */
  allowed_users?: readonly (string | number)[] | null;
  /** Default true. */
  allow_basics_algorithm?: boolean;
  /** Not used here: it decides the image pull policy. */
  require_algorithm_pull?: boolean;
  /** Default false: an image must pass both `allowed_algorithms` and `allowed_algorithm_stores`. */
  allow_either_whitelist_or_store?: boolean;
}

/** The task fields the policies look at (`task` of a run from `GET run?include=task`). */
export interface PolicyTask {
  init_org: { id: number };
  /** Null for a 5 task no person created: only `allowed_organizations` can admit it then. */
  init_user: { id: number } | null;
  algorithm_store?: { id: number } | null;
}

/** The outside world the policies consult; rejections propagate to the caller. */
export interface PolicyDeps {
  /** The registry digest of an image reference, or undefined if it cannot be resolved. */
  digestOf(ref: string): Promise<string | undefined>;
  /** `GET algorithmstore/<id>` → `url`, or undefined if there is no such store. */
  storeUrl(storeId: number): Promise<string | undefined>;
  /** `GET organization?name=<name>` → the organizations found. */
  organizationsByName(name: string): Promise<ReadonlyArray<{ id: number; name: string }>>;
}

export interface PolicyDecision {
  allowed: boolean;
  /** A sentence for the node log and, when denied, the run log. */
  reason: string;
}

/** Images starting with this are vantage6's basics algorithms (`allow_basics_algorithm`). */
export const BASICS_IMAGE = 'harbor2.vantage6.ai/algorithms/basics';

const REGEX_CHARACTERS = ['*', '\\', '?', '$', '^', '[', ']', '(', ')', '{', '}', '|', '+'];

/** `_is_regex_pattern`: whether an allow-list entry is treated as a regular expression. */
export function isRegexPattern(entry: string): boolean {
  return REGEX_CHARACTERS.some((c) => entry.includes(c));
}

/**
 * Whether `entry` allows `image` without consulting a registry: a regex match, the identical
 * reference, or the same name when the entry has no tag. (A tagged entry allowing another tag with
 * the same digest needs `isImageAllowed`.) Invalid entries match nothing.
 */
export function matchesAllowedImage(entry: string, image: string): boolean {
  return matchEntry(entry, image, tryImageWithoutTag(image)) === 'match';
}

/** `is_docker_image_allowed(image, task)`. */
export async function isImageAllowed(policies: NodePolicies, image: string, task: PolicyTask, deps: PolicyDeps): Promise<PolicyDecision> {
  if (image.startsWith(BASICS_IMAGE) && policies.allow_basics_algorithm === false) {
    return deny(`Image ${image} is a vantage6 basics algorithm, which this node does not allow (allow_basics_algorithm: false).`);
  }
  const users = policies.allowed_users ?? [];
  const orgs = policies.allowed_organizations ?? [];
  if ((users.length > 0 || orgs.length > 0) && !(await initiatorAllowed(users, orgs, task, deps))) {
    return deny(
      `The task was created by ${task.init_user === null ? 'no user' : `user ${task.init_user.id}`} of organization ${task.init_org.id}, ` +
        'and neither is in allowed_users or allowed_organizations of this node.',
    );
  }
  const algorithms = asList(policies.allowed_algorithms);
  const stores = asList(policies.allowed_algorithm_stores);
  const whitelist = algorithms.length > 0 ? await checkAlgorithms(algorithms, image, deps) : undefined;
  if (whitelist?.invalid !== undefined) return deny(whitelist.invalid);
  const store = stores.length > 0 ? await checkStore(stores, task, deps) : undefined;
  if (store?.invalid !== undefined) return deny(store.invalid);

  const byWhitelist = whitelist === undefined || whitelist.allowed;
  const byStore = store === undefined || store.allowed;
  const either = policies.allow_either_whitelist_or_store === true;
  const allowed = either ? byWhitelist || byStore : byWhitelist && byStore;
  const findings = [whitelist, store].filter((f) => f !== undefined && f.allowed === allowed).map((f) => f?.reason);
  if (allowed) {
    const why = findings.length > 0 ? findings.join('; ') : 'this node sets no algorithm or store allow-list';
    return { allowed, reason: `Image ${image} is allowed: ${why}.` };
  }
  return deny(`Image ${image} is not allowed on this node: ${findings.join(either ? ' and ' : '; ')}.`);
}

interface Finding {
  allowed: boolean;
  reason: string;
  /** Set when the policy itself is broken (upstream raises): the image is then denied. */
  invalid?: string;
}

type EntryMatch = 'match' | 'no-match' | 'same-name' | 'unparsable' | 'invalid-regex';

function matchEntry(entry: string, image: string, imageWoTag: string | undefined): EntryMatch {
  if (isRegexPattern(entry)) {
    const regex = compileAnchoredAtStart(entry);
    if (regex === undefined) return 'invalid-regex';
    return regex.test(image) ? 'match' : 'no-match';
  }
  const entryWoTag = tryImageWithoutTag(entry);
  if (entryWoTag === undefined) return 'unparsable';
  if (entry === image || entry === imageWoTag) return 'match';
  return entryWoTag === imageWoTag ? 'same-name' : 'no-match';
}

async function checkAlgorithms(entries: readonly string[], image: string, deps: PolicyDeps): Promise<Finding> {
  const imageWoTag = tryImageWithoutTag(image);
  let matched: string | undefined;
  for (const entry of entries) {
    const match = matchEntry(entry, image, imageWoTag);
    if (match === 'invalid-regex') {
      const invalid = `allowed_algorithms entry ${JSON.stringify(entry)} is not a valid regular expression, so no image is allowed.`;
      return { allowed: false, reason: invalid, invalid };
    }
    if (match === 'same-name' && (await sameDigest(image, entry, deps))) {
      return { allowed: true, reason: `it has the same registry digest as allowed_algorithms entry ${entry}` };
    }
    if (match !== 'match') continue;
    matched ??= entry;
    // Upstream stops at a literal match but keeps evaluating after a regex match.
    if (!isRegexPattern(entry)) break;
  }
  return matched === undefined
    ? { allowed: false, reason: 'it matches no allowed_algorithms entry' }
    : { allowed: true, reason: `it matches allowed_algorithms entry ${matched}` };
}

async function checkStore(entries: readonly string[], task: PolicyTask, deps: PolicyDeps): Promise<Finding> {
  const storeId = task.algorithm_store?.id;
  if (!storeId) return { allowed: false, reason: 'the task names no algorithm store, and allowed_algorithm_stores is set' };
  const url = await deps.storeUrl(storeId);
  if (url === undefined) return { allowed: false, reason: `algorithm store ${storeId} is unknown to the server` };
  let allowed = false;
  for (const entry of entries) {
    if (!isRegexPattern(entry)) {
      allowed ||= entry === url;
      continue;
    }
    const regex = compileAnchoredAtStart(entry);
    if (regex === undefined) {
      const invalid = `allowed_algorithm_stores entry ${JSON.stringify(entry)} is not a valid regular expression, so no image is allowed.`;
      return { allowed: false, reason: invalid, invalid };
    }
    allowed ||= regex.test(url);
  }
  return allowed
    ? { allowed, reason: `its algorithm store ${url} is in allowed_algorithm_stores` }
    : { allowed, reason: `its algorithm store ${url} is not in allowed_algorithm_stores` };
}

async function initiatorAllowed(
  users: readonly (string | number)[],
  orgs: readonly (string | number)[],
  task: PolicyTask,
  deps: PolicyDeps,
): Promise<boolean> {
  const userId = task.init_user === null ? undefined : String(task.init_user.id);
  const orgId = String(task.init_org.id);
  if (users.some((u) => u === userId) || orgs.some((o) => o === orgId)) return true;
  for (const name of orgs) {
    if (typeof name !== 'string') continue; // a number never equals a name
    const found = await deps.organizationsByName(name);
    if (found.some((org) => org.name === name && org.id === task.init_org.id)) return true;
  }
  return false;
}

async function sameDigest(image: string, entry: string, deps: PolicyDeps): Promise<boolean> {
  const imageDigest = await deps.digestOf(image);
  const entryDigest = await deps.digestOf(entry);
  return Boolean(imageDigest) && imageDigest === entryDigest;
}

/** Python `re.match`: a match must start at index 0 but may end anywhere. */
function compileAnchoredAtStart(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, 'y');
  } catch {
    return undefined;
  }
}

function tryImageWithoutTag(ref: string): string | undefined {
  try {
    return imageWithoutTag(ref);
  } catch {
    return undefined;
  }
}

function asList(value: string | readonly string[] | null | undefined): readonly string[] {
  if (value === null || value === undefined || value === '') return [];
  return typeof value === 'string' ? [value] : value;
}

function deny(reason: string): PolicyDecision {
  return { allowed: false, reason };
}
