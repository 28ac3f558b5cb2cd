// The conversation as the real cluster of `npm run cluster:up` answered it, kept in the repository
// so that the fast tier holds the simulation to it without a real cluster. The cluster tier checks
// that the real cluster still answers so, and rewrites it with V6_KUBE_RECORD=1.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const RECORDING = fileURLToPath(new URL('../../fixtures/kube-conversation.json', import.meta.url));

export interface Recording {
  /** The cluster that answered: its version as `GET /version` reports it. */
  kubernetes: string;
  record: Record<string, unknown>;
}

export async function readRecording(): Promise<Recording> {
  return JSON.parse(await readFile(RECORDING, 'utf8')) as Recording;
}

export async function writeRecording(recording: Recording): Promise<string> {
  await writeFile(RECORDING, `${JSON.stringify(recording, null, 2)}\n`);
  return RECORDING;
}
