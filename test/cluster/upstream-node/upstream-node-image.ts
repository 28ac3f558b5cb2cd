// vantage6-node 5.0.3 from PyPI as a container image (the Dockerfile beside), on the
// python:3.13-slim made here, cached by its inputs like the rest of the image tier.
import { buildFolderImage } from '../images/bases.js';
import type { BuiltImage } from '../images/static-image.js';

/** The vantage6-node release the image holds (requirements.txt pins it). */
export const UPSTREAM_NODE_VERSION = '5.0.3';

/** The default reference: a repository of its own, tagged with the release. */
export const UPSTREAM_NODE_IMAGE_NAME = `localhost/vantage6-node:${UPSTREAM_NODE_VERSION}`;

/** Builds (or takes from the cache) the image under `name`. */
export function upstreamNodeImage(name = UPSTREAM_NODE_IMAGE_NAME, verbose = true): Promise<BuiltImage> {
  return buildFolderImage({ context: import.meta.dirname, name, verbose });
}
