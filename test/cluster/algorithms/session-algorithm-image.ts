// The vantage6 5 test algorithm (test/algorithms/v6_session, on vantage6-algorithm-tools 5.0.3)
// as a container image for the real cluster: its Dockerfile on the python:3.13-slim made here,
// cached by its inputs like the rest of the image tier.
import { fileURLToPath } from 'node:url';
import { buildFolderImage } from '../images/bases.js';
import type { BuiltImage } from '../images/static-image.js';

/** The vantage6-algorithm-tools release the image is built on (its requirements.txt pins it). */
export const SESSION_TOOLS_VERSION = '5.0.3';

/** The default reference: a repository of its own, tagged with the tools' version. */
export const V6_SESSION_IMAGE_NAME = `localhost/v6-node-algorithms/v6-session:${SESSION_TOOLS_VERSION}`;

const CONTEXT = fileURLToPath(new URL('../../algorithms/v6_session/', import.meta.url));

/** Builds (or takes from the cache) the v6_session image under `name`. */
export function v6SessionImage(name = V6_SESSION_IMAGE_NAME, verbose = true): Promise<BuiltImage> {
  return buildFolderImage({ context: CONTEXT, name, verbose });
}
