// Offline checks of rendered manifests: kubernetes-models validates types, enums and required
// fields; `unknownFields` walks client-node's generated models (attributeTypeMap) to find keys
// the API does not have, which kubernetes-models lets through and the API server would drop or
// reject (strict field validation).
import * as k8s from '@kubernetes/client-node';
import { ConfigMap, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { K8sObject } from './render.js';

interface Validatable {
  validate(): void;
}

const MODELS: Record<string, { model: new (data: never) => Validatable; type: string }> = {
  'v1/ConfigMap': { model: ConfigMap, type: 'V1ConfigMap' },
  'v1/PersistentVolumeClaim': { model: PersistentVolumeClaim, type: 'V1PersistentVolumeClaim' },
  'v1/Pod': { model: Pod, type: 'V1Pod' },
  'v1/Secret': { model: Secret, type: 'V1Secret' },
  'v1/Service': { model: Service, type: 'V1Service' },
  'v1/ServiceAccount': { model: ServiceAccount, type: 'V1ServiceAccount' },
  'apps/v1/Deployment': { model: Deployment, type: 'V1Deployment' },
  'apps/v1/StatefulSet': { model: StatefulSet, type: 'V1StatefulSet' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, type: 'V1NetworkPolicy' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, type: 'V1PodDisruptionBudget' },
  'rbac.authorization.k8s.io/v1/Role': { model: Role, type: 'V1Role' },
  'rbac.authorization.k8s.io/v1/RoleBinding': { model: RoleBinding, type: 'V1RoleBinding' },
};

/** Schema problems of one object: unknown kind, kubernetes-models errors, unknown fields. */
export function manifestProblems(object: K8sObject): string[] {
  const entry = MODELS[`${object.apiVersion}/${object.kind}`];
  if (entry === undefined) return [`${object.apiVersion}/${object.kind}: a kind the checks do not know`];
  const problems: string[] = [];
  try {
    new entry.model(structuredClone(object) as never).validate();
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  problems.push(...unknownFields(object, entry.type));
  return problems;
}

type AttributeMap = ReadonlyArray<{ baseName: string; type: string }>;

function attributeMap(type: string): AttributeMap | undefined {
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap } | undefined>)[type];
  return model?.getAttributeTypeMap?.();
}

const PRIMITIVES = new Set(['string', 'number', 'boolean', 'any', 'object', 'Date', 'IntOrString']);

/** Every key of `value` (a `type` as client-node names it) that the API type does not have. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`)) : [`${path}: expected a list`];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`)) : [`${path}: expected a mapping`];
  if (PRIMITIVES.has(type)) return [];
  const attributes = attributeMap(type);
  if (attributes === undefined) return [`${path}: no model for ${type}`];
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a ${type} mapping`];
  const problems: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const attribute = attributes.find((a) => a.baseName === key);
    if (attribute === undefined) problems.push(`${path || '(root)'}: unknown field ${key} (${type})`);
    else problems.push(...unknownFields(child, attribute.type, path === '' ? key : `${path}.${key}`));
  }
  return problems;
}
