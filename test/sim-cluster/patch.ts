// The three PATCH content types the API server accepts for built-in types; pure.
import { isDeepStrictEqual } from 'node:util';
import { ApiError, badRequest } from './errors.js';

type Json = unknown;
type JsonObject = Record<string, Json>;

export const patchTypes = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
} as const;

function isObject(value: Json): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386 JSON merge patch: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

// Strategic merge keys of the list fields we use, by field name (as the Kubernetes types declare them).
const mergeKeys: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  volumes: 'name',
  env: 'name',
  ports: 'containerPort',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
  ownerReferences: 'uid',
  conditions: 'type',
  containerStatuses: 'name',
};
// Lists of scalars merged as sets.
const setLists = new Set(['finalizers']);

/**
 * Strategic merge patch for the fields the simulated types use: merge patch, except that lists with
 * a merge key merge element-wise (an element `{$patch: delete}` removes its match) and finalizers
 * merge as a set. `$retainKeys` and `$setElementOrder` directives are not supported.
 */
export function strategicMergePatch(target: Json, patch: Json, field = ''): Json {
  if (!isObject(patch)) {
    if (Array.isArray(patch) && Array.isArray(target)) {
      const key = mergeKeys[field];
      if (key !== undefined) return mergeList(target, patch, key);
      if (setLists.has(field)) return [...new Set([...target, ...patch])];
    }
    return structuredClone(patch);
  }
  if (patch['$patch'] === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return structuredClone(rest);
  }
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) throw badRequest(`strategic merge patch directive ${key} is not supported by the simulated cluster`);
    if (value === null) delete result[key];
    else result[key] = strategicMergePatch(result[key], value, key);
  }
  return result;
}

function mergeList(target: Json[], patch: Json[], key: string): Json[] {
  const result = [...target];
  for (const element of patch) {
    if (!isObject(element) || element[key] === undefined) {
      result.push(structuredClone(element));
      continue;
    }
    const index = result.findIndex((e) => isObject(e) && e[key] === element[key]);
    if (element['$patch'] === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMergePatch(result[index], element);
    } else {
      result.push(structuredClone(element));
    }
  }
  return result;
}

interface Operation { op: string; path: string; from?: string; value?: Json }

function unprocessable(message: string): ApiError {
  return new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`);
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw unprocessable(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The container and final key a pointer refers to; throws 422 when the container does not exist. */
function locate(doc: Json, path: string): { parent: JsonObject | Json[]; key: string } {
  const tokens = pointer(path);
  const last = tokens.pop();
  if (last === undefined) throw unprocessable('operations on the document root are not supported');
  let node: Json = doc;
  for (const token of tokens) {
    node = Array.isArray(node) ? node[Number(token)] : isObject(node) ? node[token] : undefined;
    if (node === undefined) throw unprocessable(`path ${path} does not exist`);
  }
  if (!Array.isArray(node) && !isObject(node)) throw unprocessable(`path ${path} does not exist`);
  return { parent: node, key: last };
}

function read(doc: Json, path: string): Json {
  const { parent, key } = locate(doc, path);
  const value = Array.isArray(parent) ? parent[Number(key)] : parent[key];
  if (value === undefined) throw unprocessable(`path ${path} does not exist`);
  return value;
}

function arrayIndex(array: Json[], key: string, forInsert: boolean): number {
  if (forInsert && key === '-') return array.length;
  const index = Number(key);
  if (!/^\d+$/.test(key) || index > array.length || (!forInsert && index === array.length)) throw unprocessable(`index ${key} out of range`);
  return index;
}

function add(doc: Json, path: string, value: Json): void {
  const { parent, key } = locate(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, structuredClone(value));
  else parent[key] = structuredClone(value);
}

function remove(doc: Json, path: string): Json {
  const { parent, key } = locate(doc, path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0];
  if (!(key in parent)) throw unprocessable(`path ${path} does not exist`);
  const value = parent[key];
  delete parent[key];
  return value;
}

/** RFC 6902 JSON patch; a failed `test` or a missing path is 422, a malformed patch 400. */
export function jsonPatch(target: Json, patch: Json): Json {
  if (!Array.isArray(patch)) throw badRequest('json patch must be an array of operations');
  const doc = structuredClone(target);
  for (const raw of patch) {
    if (!isObject(raw) || typeof raw['op'] !== 'string' || typeof raw['path'] !== 'string') throw badRequest(`invalid json patch operation ${JSON.stringify(raw)}`);
    const op = raw as unknown as Operation;
    switch (op.op) {
      case 'add': add(doc, op.path, op.value); break;
      case 'remove': remove(doc, op.path); break;
      case 'replace': read(doc, op.path); remove(doc, op.path); add(doc, op.path, op.value); break;
      case 'move': add(doc, op.path, remove(doc, op.from ?? '')); break;
      case 'copy': add(doc, op.path, read(doc, op.from ?? '')); break;
      case 'test': {
        const actual = read(doc, op.path);
        if (!isDeepStrictEqual(actual, op.value)) throw unprocessable(`testing value ${op.path} failed`);
        break;
      }
      default: throw badRequest(`unknown json patch operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

/** Applies a patch body of the given content type; 415 for types the server does not accept. */
export function applyPatch(contentType: string, target: Json, patch: Json): Json {
  switch (contentType) {
    case patchTypes.merge: return mergePatch(target, patch);
    case patchTypes.strategic: return strategicMergePatch(target, patch);
    case patchTypes.json: return jsonPatch(target, patch);
    default:
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${Object.values(patchTypes).join(', ')}`);
  }
}
