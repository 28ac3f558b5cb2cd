// Validation the API server applies before storing an object; pure: object in, causes out.
import { isDeepStrictEqual } from 'node:util';
import type { StatusCause } from './errors.js';
import type { KubeObject } from './store.js';
import type { ResourceType } from './resources.js';

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedNamePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const configKey = /^[-._a-zA-Z0-9]+$/;

export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && dns1123Label.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && dns1123Subdomain.test(value);
}

/** A label or annotation key: an optional DNS subdomain prefix and a name of at most 63 characters. */
export function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2 && (parts[0] === '' || !isDns1123Subdomain(parts[0]!))) return false;
  return name.length <= 63 && qualifiedNamePart.test(name);
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && labelValue.test(value);
}

function required(field: string): StatusCause {
  return { reason: 'FieldValueRequired', message: 'Required value', field };
}

function invalidValue(field: string, value: unknown, why: string): StatusCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${why}`, field };
}

function unsupported(field: string, value: unknown, allowed: string[]): StatusCause {
  return {
    reason: 'FieldValueNotSupported',
    message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`,
    field,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// As apimachinery's validation words them (RegexError: the examples, then the regex).
const subdomainMessage =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const labelMessage =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

export function validateLabels(labels: unknown, field: string): StatusCause[] {
  if (labels === undefined) return [];
  if (!isRecord(labels)) return [invalidValue(field, labels, 'must be a map of strings')];
  const causes: StatusCause[] = [];
  for (const [key, value] of Object.entries(labels)) {
    if (!isQualifiedName(key)) causes.push(invalidValue(field, key, 'name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character, and be no more than 63 characters'));
    if (typeof value !== 'string') causes.push(invalidValue(`${field}.${key}`, value, 'must be a string'));
    else if (value.length > 63) causes.push(invalidValue(field, value, 'must be no more than 63 characters'));
    else if (!isLabelValue(value)) causes.push(invalidValue(field, value, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
  }
  return causes;
}

function validateMeta(type: ResourceType, obj: KubeObject): StatusCause[] {
  const meta = obj.metadata;
  const causes: StatusCause[] = [];
  if (typeof meta.name !== 'string' || meta.name === '') {
    causes.push({ ...required('metadata.name'), message: 'Required value: name or generateName is required' });
  } else if (type.plural === 'namespaces' ? !isDns1123Label(meta.name) : !isDns1123Subdomain(meta.name)) {
    causes.push(invalidValue('metadata.name', meta.name, type.plural === 'namespaces' ? labelMessage : subdomainMessage));
  }
  causes.push(...validateLabels(meta.labels, 'metadata.labels'));
  if (meta.annotations !== undefined) {
    if (!isRecord(meta.annotations)) causes.push(invalidValue('metadata.annotations', meta.annotations, 'must be a map of strings'));
    else for (const key of Object.keys(meta.annotations)) {
      if (!isQualifiedName(key)) causes.push(invalidValue('metadata.annotations', key, 'must be a qualified name'));
    }
  }
  for (const [i, ref] of (meta.ownerReferences ?? []).entries()) {
    for (const key of ['apiVersion', 'kind', 'name', 'uid'] as const) {
      if (typeof ref[key] !== 'string' || ref[key] === '') causes.push(required(`metadata.ownerReferences[${i}].${key}`));
    }
  }
  const controllers = (meta.ownerReferences ?? []).filter((r) => r.controller === true);
  if (controllers.length > 1) causes.push(invalidValue('metadata.ownerReferences', controllers.map((c) => c.name), 'Only one reference can have Controller set to true'));
  return causes;
}

/** Validates a pod spec; `path` is where it sits ('spec' in a Pod, 'spec.template.spec' in a Job). */
export function validatePodSpec(spec: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const containers = isRecord(spec) ? spec['containers'] : undefined;
  if (!Array.isArray(containers) || containers.length === 0) return [required(`${path}.containers`)];
  const seen = new Set<string>();
  for (const [i, container] of (containers as unknown[]).entries()) {
    const at = `${path}.containers[${i}]`;
    if (!isRecord(container)) { causes.push(required(at)); continue; }
    const name = container['name'];
    if (typeof name !== 'string' || name === '') causes.push(required(`${at}.name`));
    else if (!isDns1123Label(name)) causes.push(invalidValue(`${at}.name`, name, labelMessage));
    else if (seen.has(name)) causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: "${name}"`, field: `${at}.name` });
    else seen.add(name);
    if (typeof container['image'] !== 'string' || container['image'].trim() === '') causes.push(required(`${at}.image`));
  }
  const restartPolicy = (spec as Record<string, unknown>)['restartPolicy'];
  if (restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(restartPolicy as string)) {
    causes.push(unsupported(`${path}.restartPolicy`, restartPolicy, ['Always', 'OnFailure', 'Never']));
  }
  return causes;
}

function validateJob(obj: KubeObject): StatusCause[] {
  const spec = obj['spec'];
  if (!isRecord(spec)) return [required('spec')];
  const template = isRecord(spec['template']) ? spec['template'] : {};
  const templateMeta = isRecord(template['metadata']) ? template['metadata'] : {};
  const causes = [...validateLabels(templateMeta['labels'], 'spec.template.metadata.labels'), ...validatePodSpec(template['spec'], 'spec.template.spec')];
  const restartPolicy = isRecord(template['spec']) ? template['spec']['restartPolicy'] : undefined;
  if (restartPolicy !== 'OnFailure' && restartPolicy !== 'Never') {
    causes.push(
      restartPolicy === undefined
        ? { ...required('spec.template.spec.restartPolicy'), message: 'Required value: valid values: "OnFailure", "Never"' }
        : unsupported('spec.template.spec.restartPolicy', restartPolicy, ['OnFailure', 'Never']),
    );
  }
  for (const key of ['backoffLimit', 'completions', 'parallelism', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished']) {
    const value = spec[key];
    if (value !== undefined && value !== null && (!Number.isInteger(value) || (value as number) < 0)) {
      causes.push(invalidValue(`spec.${key}`, value, 'must be greater than or equal to 0'));
    }
  }
  return causes;
}

function validateStringMap(data: unknown, field: string): StatusCause[] {
  if (data === undefined || data === null) return [];
  if (!isRecord(data)) return [invalidValue(field, data, 'must be a map of strings')];
  return Object.keys(data)
    .filter((key) => !configKey.test(key))
    .map((key) => invalidValue(field, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
}

/** All problems with an object about to be stored; empty when it is valid. */
export function validateObject(type: ResourceType, obj: KubeObject): StatusCause[] {
  const causes = validateMeta(type, obj);
  switch (type.plural) {
    case 'pods': causes.push(...validatePodSpec(obj['spec'], 'spec')); break;
    case 'jobs': causes.push(...validateJob(obj)); break;
    case 'secrets': causes.push(...validateStringMap(obj['data'], 'data')); break;
    case 'configmaps': causes.push(...validateStringMap(obj['data'], 'data'), ...validateStringMap(obj['binaryData'], 'binaryData')); break;
    case 'persistentvolumeclaims': {
      const spec = obj['spec'];
      if (!isRecord(spec) || !Array.isArray(spec['accessModes']) || spec['accessModes'].length === 0) causes.push(required('spec.accessModes'));
      const resources = isRecord(spec) && isRecord(spec['resources']) ? spec['resources'] : {};
      if (!isRecord(resources['requests']) || resources['requests']['storage'] === undefined) causes.push(required('spec.resources[storage]'));
      break;
    }
    case 'events': {
      if (!isRecord(obj['involvedObject'])) causes.push(required('involvedObject'));
      break;
    }
  }
  return causes;
}

function immutable(field: string, value: unknown): StatusCause {
  return { reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: field is immutable`, field };
}

/** The parts of a pod spec an update may change: container images, activeDeadlineSeconds, tolerations, and nodeName once. */
function podSpecSansMutable(spec: unknown, nodeNameSet: boolean): unknown {
  if (!isRecord(spec)) return spec;
  const { activeDeadlineSeconds: _a, tolerations: _t, nodeName, ...rest } = spec;
  const images = (list: unknown) => (Array.isArray(list) ? list.map((c) => (isRecord(c) ? { ...c, image: undefined } : c)) : list);
  return { ...rest, containers: images(rest['containers']), initContainers: images(rest['initContainers']), ...(nodeNameSet ? { nodeName } : {}) };
}

/** Problems with changing `before` into `after` by an update through the API (immutable fields). */
export function validateUpdate(type: ResourceType, before: KubeObject, after: KubeObject): StatusCause[] {
  const same = isDeepStrictEqual;
  const oldSpec = isRecord(before['spec']) ? before['spec'] : {};
  const newSpec = isRecord(after['spec']) ? after['spec'] : {};
  if (type.plural === 'pods') {
    const nodeNameSet = typeof oldSpec['nodeName'] === 'string' && oldSpec['nodeName'] !== '';
    if (!same(podSpecSansMutable(oldSpec, nodeNameSet), podSpecSansMutable(newSpec, nodeNameSet))) {
      return [{
        reason: 'FieldValueForbidden',
        message: 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)',
        field: 'spec',
      }];
    }
  }
  if (type.plural === 'jobs') {
    return ['template', 'selector', 'completionMode']
      .filter((key) => !same(oldSpec[key], newSpec[key]))
      .map((key) => immutable(`spec.${key}`, newSpec[key]));
  }
  return [];
}
