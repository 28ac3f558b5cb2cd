// The images a site runs, built by the image tier and pushed to the local cluster's registry, as
// an institution pushes to its own: the product image (from the repository's Dockerfile), Redis
// (from Debian's package: nothing serves redis:7.2-alpine here) and the algorithm images.
import { productImage, productImageName } from '../images/product-image.js';
import { redisImage } from '../images/redis-image.js';
import type { BuiltImage } from '../images/static-image.js';
import { REGISTRY } from '../lib/config.js';
import { pushImage } from '../lib/images.js';

export interface ImageRef {
  repository: string;
  tag: string;
  /** The pushed manifest: the sites pin it (`image.digest`), since a node keeps the first image it pulled under a tag. */
  digest: string;
}

export interface NodeImages {
  node: ImageRef;
  redis: ImageRef;
  /** The algorithm images by role, as full references (REGISTRY/algorithms/<role>:1); `missing` is never pushed. */
  algorithms: Record<string, string>;
  /** What the sites' `policies.allowedAlgorithms` lists: every algorithm image but `refused`, and `missing`. */
  allowedAlgorithms: string[];
}

const refOf = ({ reference, digest }: { reference: string; digest: string }): ImageRef => {
  const at = reference.lastIndexOf(':');
  return { repository: reference.slice(0, at), tag: reference.slice(at + 1), digest };
};

/** Builds (or takes from the cache) and pushes every image; `algorithms` maps a role to its built image. */
export async function pushNodeImages(algorithms: Record<string, Promise<BuiltImage>>): Promise<NodeImages> {
  const tag = (await productImageName()).split(':')[1]!;
  const node = await pushImage(productImage({ verbose: false }), `v6-node:${tag}`);
  const redis = await pushImage(redisImage(), 'redis:7.0-bookworm');
  const pushed: Record<string, string> = {};
  for (const [role, image] of Object.entries(algorithms)) {
    // By tag: algorithm pods pull Always (policies.requireAlgorithmPull), as vantage6 nodes do.
    pushed[role] = (await pushImage(image, `algorithms/${role}:1`)).reference;
  }
  pushed.missing = `${REGISTRY}/algorithms/missing:1`;
  return {
    node: refOf(node),
    redis: refOf(redis),
    algorithms: pushed,
    allowedAlgorithms: Object.entries(pushed)
      .filter(([role]) => role !== 'refused')
      .map(([, reference]) => reference),
  };
}
