// Label and field selectors as the API server parses and applies them; pure.
import { badRequest } from './errors.js';
import type { ResourceType } from './resources.js';
import type { KubeObject } from './store.js';
import { isLabelValue, isQualifiedName } from './validate.js';

export type Predicate = (obj: KubeObject) => boolean;

/** Splits on commas outside parentheses: 'a in (x,y),b' → ['a in (x,y)', 'b']. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { terms.push(current); current = ''; continue; }
    current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function checkKey(key: string, term: string): string {
  if (!isQualifiedName(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${term}"`);
  return key;
}

function checkValue(value: string, term: string): string {
  if (!isLabelValue(value)) throw badRequest(`unable to parse requirement: invalid label value "${value}" in "${term}"`);
  return value;
}

function labelTerm(term: string): (labels: Record<string, string>) => boolean {
  let m = /^!\s*(\S+)$/.exec(term);
  if (m) { const key = checkKey(m[1]!, term); return (l) => !(key in l); }
  m = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const key = checkKey(m[1]!, term);
    const values = new Set(m[3]!.split(',').map((v) => checkValue(v.trim(), term)));
    return m[2] === 'in' ? (l) => key in l && values.has(l[key]!) : (l) => !(key in l) || !values.has(l[key]!);
  }
  m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term);
  if (m) {
    const key = checkKey(m[1]!, term);
    const value = checkValue(m[3]!, term);
    return m[2] === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  m = /^([^\s!=(),]+)$/.exec(term);
  if (m) { const key = checkKey(m[1]!, term); return (l) => key in l; }
  throw badRequest(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, exists or !`);
}

/** Parses a label selector ('app=x,tier in (a,b),!legacy'); throws 400 BadRequest when malformed. */
export function parseLabelSelector(selector: string | undefined): Predicate {
  const terms = splitTerms(selector ?? '').map(labelTerm);
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return terms.every((t) => t(labels));
  };
}

function fieldValue(obj: KubeObject, path: readonly string[]): string {
  let value: unknown = obj;
  for (const key of path) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return value === undefined || value === null ? '' : String(value);
}

/** Parses a field selector for a resource type ('metadata.name=x,status.phase!=Running'); 400 on unknown fields. */
export function parseFieldSelector(type: ResourceType, selector: string | undefined): Predicate {
  const fields: Record<string, readonly string[]> = {
    'metadata.name': ['metadata', 'name'],
    'metadata.namespace': ['metadata', 'namespace'],
    ...type.fields,
  };
  const terms = splitTerms(selector ?? '').map((term): Predicate => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${term}'; can't understand '${term}'`);
    const path = fields[m[1]!];
    if (path === undefined) throw badRequest(`field label not supported: ${m[1]}`);
    const value = m[3]!.trim();
    return m[2] === '!=' ? (obj) => fieldValue(obj, path) !== value : (obj) => fieldValue(obj, path) === value;
  });
  return (obj) => terms.every((t) => t(obj));
}
