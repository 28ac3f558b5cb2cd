// A Pod Security Standards "restricted" checker (kubernetes.io/docs/concepts/security/pod-security-standards,
// baseline + restricted, as of Kubernetes 1.30), plus our own hardening: a read-only root
// filesystem. Pure: a PodSpec in, one message per violation out.
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';

/** Volume types the restricted profile allows. */
const ALLOWED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);
const ALLOWED_SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

export interface CheckOptions {
  /** Also require readOnlyRootFilesystem (not part of the standard; our hardening). */
  readOnlyRootFilesystem?: boolean;
}

/** Every violation of the restricted profile in `spec`, prefixed with where it is. */
export function restrictedViolations(spec: V1PodSpec, options: CheckOptions = {}): string[] {
  const problems: string[] = [];
  const pod = spec.securityContext ?? {};
  if (spec.hostNetwork) problems.push('spec.hostNetwork must not be true');
  if (spec.hostPID) problems.push('spec.hostPID must not be true');
  if (spec.hostIPC) problems.push('spec.hostIPC must not be true');
  for (const volume of spec.volumes ?? []) {
    const types = Object.keys(volume).filter((k) => k !== 'name');
    for (const type of types) if (!ALLOWED_VOLUME_TYPES.has(type)) problems.push(`volume ${volume.name}: type ${type} is not allowed`);
  }
  for (const sysctl of pod.sysctls ?? []) if (!SAFE_SYSCTLS.has(sysctl.name)) problems.push(`sysctl ${sysctl.name} is not allowed`);
  if (pod.runAsUser === 0) problems.push('spec.securityContext.runAsUser must not be 0');
  if (pod.runAsNonRoot === false) problems.push('spec.securityContext.runAsNonRoot must not be false');
  const podSeccomp = pod.seccompProfile?.type;
  if (podSeccomp !== undefined && !['RuntimeDefault', 'Localhost'].includes(podSeccomp)) problems.push(`spec.securityContext.seccompProfile.type ${podSeccomp} is not allowed`);
  const podAppArmor = pod.appArmorProfile?.type;
  if (podAppArmor !== undefined && podAppArmor === 'Unconfined') problems.push('spec.securityContext.appArmorProfile.type must not be Unconfined');
  if (!ALLOWED_SELINUX_TYPES.has(pod.seLinuxOptions?.type ?? '')) problems.push('spec.securityContext.seLinuxOptions.type is not allowed');
  if (pod.seLinuxOptions?.user || pod.seLinuxOptions?.role) problems.push('spec.securityContext.seLinuxOptions user/role must not be set');
  if (pod.windowsOptions?.hostProcess) problems.push('spec.securityContext.windowsOptions.hostProcess must not be true');

  const containers: Array<[string, V1Container]> = [
    ...(spec.initContainers ?? []).map((c): [string, V1Container] => [`initContainer ${c.name}`, c]),
    ...(spec.containers ?? []).map((c): [string, V1Container] => [`container ${c.name}`, c]),
    ...(spec.ephemeralContainers ?? []).map((c): [string, V1Container] => [`ephemeralContainer ${c.name}`, c as V1Container]),
  ];
  if ((spec.containers ?? []).length === 0) problems.push('spec.containers is empty');
  for (const [where, c] of containers) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) problems.push(`${where}: privileged must not be true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    const drop = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) problems.push(`${where}: capabilities.drop must include ALL`);
    for (const cap of sc.capabilities?.add ?? []) if (cap !== 'NET_BIND_SERVICE') problems.push(`${where}: capability ${cap} must not be added`);
    const nonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
    if (nonRoot !== true) problems.push(`${where}: runAsNonRoot must be true (pod or container)`);
    if (sc.runAsUser === 0) problems.push(`${where}: runAsUser must not be 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp === undefined || !['RuntimeDefault', 'Localhost'].includes(seccomp)) problems.push(`${where}: seccompProfile.type must be RuntimeDefault or Localhost (pod or container)`);
    if (sc.appArmorProfile?.type === 'Unconfined') problems.push(`${where}: appArmorProfile.type must not be Unconfined`);
    if (!ALLOWED_SELINUX_TYPES.has(sc.seLinuxOptions?.type ?? '')) problems.push(`${where}: seLinuxOptions.type is not allowed`);
    if (sc.seLinuxOptions?.user || sc.seLinuxOptions?.role) problems.push(`${where}: seLinuxOptions user/role must not be set`);
    if (sc.procMount !== undefined && sc.procMount !== 'Default') problems.push(`${where}: procMount must be Default`);
    if (sc.windowsOptions?.hostProcess) problems.push(`${where}: windowsOptions.hostProcess must not be true`);
    for (const port of c.ports ?? []) if (port.hostPort !== undefined && port.hostPort !== 0) problems.push(`${where}: hostPort ${port.hostPort} is not allowed`);
    if (options.readOnlyRootFilesystem && sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
  }
  return problems;
}
