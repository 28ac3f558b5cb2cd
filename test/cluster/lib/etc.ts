// The components' configuration files, all in the state dir's etc/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { paths } from './config.js';

/** Writes etc/<name>: a string as it is, an object as JSON (*.json) or YAML. Returns the path. */
export async function writeEtc(name: string, content: string | object): Promise<string> {
  await mkdir(paths.etc, { recursive: true });
  const path = join(paths.etc, name);
  const text = typeof content === 'string' ? content : name.endsWith('.json') ? JSON.stringify(content) : stringify(content);
  await writeFile(path, text);
  return path;
}
