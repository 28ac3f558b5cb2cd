// The test algorithm images: vantage6 4.x algorithms on the real vantage6-algorithm-tools from
// PyPI, built from this folder's Dockerfile (one stage per algorithm, sharing every layer but the
// last) on the python:3.11-slim made here, and cached by their inputs like the rest of the image
// tier. Which function runs is the task input's `method`; each image's package is its PKG_NAME.
import { buildFolderImage } from '../images/bases.js';
import type { BuiltImage } from '../images/static-image.js';

/** The vantage6-algorithm-tools release the images are built on (requirements.txt pins it). */
export const ALGORITHM_TOOLS_VERSION = '4.15.2';

/** The images, by the Dockerfile stage that makes each one. */
export const ALGORITHMS = ['average', 'crash', 'oom', 'oversized'] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

/** The methods each image's package has, for the task input's `method`. */
export const ALGORITHM_METHODS = {
  /** `central_average(column, organizations?, connect_attempts=10)` → `{average, sum, count, organizations}`; `partial_average(column)` on one database → `{sum, count}`. */
  average: ['central_average', 'partial_average'],
  /** `crash(message?)` raises: the wrapper logs the traceback and exits 1. */
  crash: ['crash'],
  /** `oom(step_mib=16, stop_after_mib=None)` holds memory until the OOM killer ends it (or it stops at stop_after_mib). */
  oom: ['oom'],
  /** `oversized(size_bytes)` returns a string of that many characters: its output is size_bytes + 2 bytes. */
  oversized: ['oversized'],
} as const satisfies Record<AlgorithmName, readonly string[]>;

/** Where the images go by default: a repository of their own; the tag is the tools' version. */
export const DEFAULT_REPOSITORY = 'localhost/v6-node-algorithms';

const CONTEXT = import.meta.dirname;

export interface AlgorithmImagesOptions {
  /** The repository the images are named in, e.g. `10.244.0.1:5000/algorithms`: `<repository>/<algorithm>:<tag>`. */
  repository?: string;
  /** Default ALGORITHM_TOOLS_VERSION. */
  tag?: string;
  /** Full names for some images, overriding repository and tag for those. */
  names?: Partial<Record<AlgorithmName, string>>;
  /** buildah's output to stderr (default on, so a cold build shows progress). */
  verbose?: boolean;
}

/** The reference an image gets: `names[algorithm]`, else `<repository>/<algorithm>:<tag>`. */
export function algorithmImageName(algorithm: AlgorithmName, options: Pick<AlgorithmImagesOptions, 'repository' | 'tag' | 'names'> = {}): string {
  return options.names?.[algorithm] ?? `${options.repository ?? DEFAULT_REPOSITORY}/${algorithm}:${options.tag ?? ALGORITHM_TOOLS_VERSION}`;
}

/** Builds (or takes from the cache) one algorithm's image under `name`. */
export function algorithmImage(algorithm: AlgorithmName, name = algorithmImageName(algorithm), verbose = true): Promise<BuiltImage> {
  return buildFolderImage({ context: CONTEXT, target: algorithm, name, verbose });
}

/**
 * Builds (or takes from the cache) the algorithm images, one after the other (they share the
 * tools layer, which the first build makes). Each is an OCI archive to import or push.
 */
export async function algorithmImages(options: AlgorithmImagesOptions = {}): Promise<Record<AlgorithmName, BuiltImage>> {
  const images: Partial<Record<AlgorithmName, BuiltImage>> = {};
  for (const algorithm of ALGORITHMS) {
    images[algorithm] = await algorithmImage(algorithm, algorithmImageName(algorithm, options), options.verbose ?? true);
  }
  return images as Record<AlgorithmName, BuiltImage>;
}
