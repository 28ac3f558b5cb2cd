// A container's environment as the kubelet builds it: image ENV, then `envFrom`, then `env`
// (later wins), with `valueFrom` resolved and `$(VAR)` references expanded. A missing Secret,
// ConfigMap or key that is not optional is a CreateContainerConfigError.
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPod } from 'kubernetes-models/v1/Pod';

/** Decoded Secret data and ConfigMap data of the pod's namespace; undefined when the object is absent. */
export interface ConfigLookup {
  secret(name: string): Record<string, string> | undefined;
  configMap(name: string): Record<string, string> | undefined;
}

/** Why a container cannot be created yet; the kubelet retries when Secrets or ConfigMaps change. */
export class ContainerConfigError extends Error {
  readonly reason = 'CreateContainerConfigError';
}

/** `$(NAME)` replaced from `env` when defined; `$$(NAME)` escapes to the literal `$(NAME)`. */
export function expandVars(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return env[name] ?? match;
  });
}

export function containerEnv(pod: IPod, container: IContainer, imageEnv: Readonly<Record<string, string>>, lookup: ConfigLookup): Record<string, string> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const env: Record<string, string> = { ...imageEnv };
  for (const source of container.envFrom ?? []) {
    const ref = source.secretRef ?? source.configMapRef;
    if (ref === undefined) continue;
    const kind = source.secretRef ? 'secret' : 'configmap';
    const data = source.secretRef ? lookup.secret(ref.name!) : lookup.configMap(ref.name!);
    if (data === undefined) {
      if (ref.optional === true) continue;
      throw new ContainerConfigError(`${kind} "${ref.name}" not found`);
    }
    for (const [key, value] of Object.entries(data)) env[`${source.prefix ?? ''}${key}`] = value;
  }
  for (const variable of container.env ?? []) {
    const value = variable.valueFrom === undefined ? expandVars(variable.value ?? '', env) : valueFrom(pod, variable.valueFrom, namespace, lookup);
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

type ValueSource = NonNullable<NonNullable<IContainer['env']>[number]['valueFrom']>;

function valueFrom(pod: IPod, source: ValueSource, namespace: string, lookup: ConfigLookup): string | undefined {
  const keyRef = source.secretKeyRef ?? source.configMapKeyRef;
  if (keyRef !== undefined) {
    const isSecret = source.secretKeyRef !== undefined;
    const data = isSecret ? lookup.secret(keyRef.name!) : lookup.configMap(keyRef.name!);
    const value = data?.[keyRef.key];
    if (value !== undefined || keyRef.optional === true) return value;
    if (data === undefined) throw new ContainerConfigError(`${isSecret ? 'secret' : 'configmap'} "${keyRef.name}" not found`);
    throw new ContainerConfigError(`couldn't find key ${keyRef.key} in ${isSecret ? 'Secret' : 'ConfigMap'} ${namespace}/${keyRef.name}`);
  }
  if (source.fieldRef !== undefined) return podField(pod, source.fieldRef.fieldPath);
  throw new ContainerConfigError('resourceFieldRef is not supported by the simulated kubelet');
}

/** The downward API fields a fieldRef may select. */
function podField(pod: IPod, path: string): string {
  const mapKey = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (mapKey) return pod.metadata?.[mapKey[1] as 'labels' | 'annotations']?.[mapKey[2]!] ?? '';
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata?.name,
    'metadata.namespace': pod.metadata?.namespace,
    'metadata.uid': pod.metadata?.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.podIP': pod.status?.podIP,
    'status.hostIP': pod.status?.hostIP,
  };
  if (!(path in fields)) throw new ContainerConfigError(`unsupported fieldPath: ${path}`);
  return fields[path] ?? '';
}
