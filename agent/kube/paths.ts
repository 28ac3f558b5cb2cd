// Where things are: inside an algorithm pod (the vantage6 4.x and 5 container contracts) and on the
// agent's own mount of the task volume. Pure path arithmetic; the agent creates the folders.
import { posix } from 'node:path';
import { AGENT_PRIVATE_FOLDER, SESSIONS_ROOT_FOLDER, TMP_ROOT_FOLDER, jobTmpFolderName, runFolderName, sessionFolderName } from './names.js';

/** Root of the run folders inside the pod; only the run's own folder is mounted below it. */
export const DATA_ROOT = '/mnt/data';
/** The job's shared temporary folder inside the pod (vantage6's `TEMPORARY_FOLDER`). */
export const TEMPORARY_FOLDER = '/mnt/tmp';
/** Where the run's Secret is mounted; the container token is the file `token` in it. */
export const TOKEN_MOUNT = '/mnt/token';
/** The key of the container token in the run's Secret, and so its file name under TOKEN_MOUNT. */
export const TOKEN_KEY = 'token';
/** Root under which each database on a claim is mounted, at `<root>/<label>`. */
export const DATABASES_ROOT = '/mnt/databases';
/** A writable scratch directory for images with a read-only root filesystem. */
export const SCRATCH_MOUNT = '/tmp';

/**
 * The files of the vantage6 5 contract inside the pod, where upstream's node puts them
 * (vantage6-node 5.0.3 `globals.py`): the input and output files, the session folder (read-only
 * here) and its state file.
 */
export const TaskPaths5 = {
  input: '/app/vantage6/task/input',
  output: '/app/vantage6/task/output',
  session: '/app/vantage6/task/session',
  sessionFile: '/app/vantage6/task/session/session_state.parquet',
} as const;

/** The run's folder inside the pod: `/mnt/data/task-XXXXXXXXX`. */
export function runDataPath(runId: number): string {
  return posix.join(DATA_ROOT, runFolderName(runId));
}

/** The files of the contract, inside the pod. */
export function runFilePaths(runId: number): { input: string; output: string; token: string } {
  return {
    input: posix.join(runDataPath(runId), 'input'),
    output: posix.join(runDataPath(runId), 'output'),
    token: posix.join(TOKEN_MOUNT, TOKEN_KEY),
  };
}

/** Where a database on a claim is mounted inside the pod. */
export function databaseMountPath(label: string): string {
  return posix.join(DATABASES_ROOT, label);
}

/** The URI an algorithm gets for a database on a claim: its `uri` below the mount. */
export function databasePathInPod(label: string, uri: string): string {
  return posix.join(databaseMountPath(label), uri);
}

/**
 * The run's folder as the agent sees it (`<task_volume.mount_path>/task-XXXXXXXXX`): the agent
 * writes `input` and an empty `output` there before it creates the Job, and reads `output` after.
 */
export function agentRunFolder(taskVolumeMountPath: string, runId: number): string {
  return posix.join(taskVolumeMountPath, runFolderName(runId));
}

/** The job's temporary folder as the agent sees it; the agent creates it before the Job. */
export function agentJobTmpFolder(taskVolumeMountPath: string, jobId: number): string {
  return posix.join(taskVolumeMountPath, jobTmpFolderName(jobId));
}

/** The parent of the jobs' temporary folders, as the agent sees it. */
export function agentTmpRoot(taskVolumeMountPath: string): string {
  return posix.join(taskVolumeMountPath, TMP_ROOT_FOLDER);
}

/** The parent of the session folders, as the agent sees it. */
export function agentSessionsRoot(taskVolumeMountPath: string): string {
  return posix.join(taskVolumeMountPath, SESSIONS_ROOT_FOLDER);
}

/** A session's folder as the agent sees it: the session's dataframes, `<name>.parquet`. */
export function agentSessionFolder(taskVolumeMountPath: string, sessionId: number): string {
  return posix.join(taskVolumeMountPath, sessionFolderName(sessionId));
}

/** The agent's own folder on the task volume. */
export function agentPrivateRoot(taskVolumeMountPath: string): string {
  return posix.join(taskVolumeMountPath, AGENT_PRIVATE_FOLDER);
}

/** The agent's own files of one run (its token, the collected log): `.v6-node/task-XXXXXXXXX`. */
export function agentPrivateRunFolder(taskVolumeMountPath: string, runId: number): string {
  return posix.join(agentPrivateRoot(taskVolumeMountPath), runFolderName(runId));
}
