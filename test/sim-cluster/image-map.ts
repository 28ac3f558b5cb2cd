// The simulated container images: an image reference stands for a host command with the image's
// ENTRYPOINT, CMD, ENV and WORKDIR. A pod container's `command` replaces the entrypoint and its
// `args` the CMD, as in Kubernetes.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const imageSchema = z.strictObject({
  /** The image's ENTRYPOINT. */
  command: z.array(z.string()).default([]),
  /** The image's CMD. */
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  workingDir: z.string().optional(),
});

const imageMapSchema = z.record(z.string(), imageSchema);

export type SimImage = z.infer<typeof imageSchema>;
export type ImageMap = Readonly<Record<string, z.input<typeof imageSchema>>>;

/** Reads and validates an image map given as a JSON file path or as the map itself. */
export async function loadImageMap(source: string | ImageMap | undefined): Promise<Map<string, SimImage>> {
  const raw: unknown = typeof source === 'string' ? JSON.parse(await readFile(source, 'utf8')) : (source ?? {});
  const parsed = imageMapSchema.parse(raw);
  return new Map(Object.entries(parsed).map(([ref, image]) => [normalizeImageRef(ref), image]));
}

/**
 * The canonical form of a reference, as a container runtime resolves it: 'alpine',
 * 'alpine:latest', 'docker.io/library/alpine:latest' are the same image.
 */
export function normalizeImageRef(ref: string): string {
  let name = ref.trim();
  const lastPart = name.split('/').pop() ?? '';
  if (!lastPart.includes(':') && !name.includes('@')) name += ':latest';
  const first = name.split('/')[0] ?? '';
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) name = `docker.io/${name}`;
  if (/^docker\.io\/[^/]+$/.test(name.split(':')[0] ?? '')) name = name.replace(/^docker\.io\//, 'docker.io/library/');
  return name;
}

/** The argv a container runs: Kubernetes' rules for combining command/args with ENTRYPOINT/CMD. */
export function containerArgv(image: SimImage, command: string[] | undefined, args: string[] | undefined): string[] {
  if (command !== undefined && command.length > 0) return [...command, ...(args ?? [])];
  return [...image.command, ...(args !== undefined && args.length > 0 ? args : image.args)];
}
