/**
 * Docker image references as vantage6 4.14 reads them (`parse_image_name` and
 * `get_image_name_wo_tag` in vantage6-common/vantage6/common/docker/addons.py, on top of docker-py's
 * `parse_repository_tag` and `resolve_repository_name`). No normalisation beyond that: no
 * `library/` prefix, no lower-casing, no validation of the repository path.
 */
import { InvalidImageNameError } from './errors.js';

export const DOCKER_HUB = 'docker.io';
const LEGACY_DOCKER_HUB = 'index.docker.io';
const DEFAULT_TAG = 'latest';

export interface ImageName {
  /** `docker.io` for Docker Hub images. */
  registry: string;
  repository: string;
  /** The tag, else the digest after '@' (e.g. `sha256:…`), else `latest`. A tag wins over a digest. */
  tag: string;
}

/** `parse_image_name`. Throws `InvalidImageNameError` where docker-py raises `InvalidRepository`. */
export function parseImageName(ref: string): ImageName {
  let [name, tag] = parseRepositoryTag(ref);
  tag = tag || DEFAULT_TAG;
  if (tag.startsWith('sha256:')) {
    // `image:tag@sha256:…`: the tag left in the name is more reliable for policies than the digest.
    const [inner, innerTag] = parseRepositoryTag(name);
    name = inner;
    if (innerTag) tag = innerTag;
  }
  const [registry, repository] = resolveRepositoryName(name);
  return { registry, repository, tag };
}

/** `get_image_name_wo_tag`: `registry/repository`, or just `repository` on Docker Hub. */
export function imageWithoutTag(ref: string): string {
  const { registry, repository } = parseImageName(ref);
  return registry === DOCKER_HUB ? repository : `${registry}/${repository}`;
}

/** docker-py `parse_repository_tag`: split at the last '@', else at a last ':' not followed by '/'. */
function parseRepositoryTag(ref: string): [name: string, tag: string | undefined] {
  const at = ref.lastIndexOf('@');
  if (at >= 0) return [ref.slice(0, at), ref.slice(at + 1)];
  const colon = ref.lastIndexOf(':');
  if (colon >= 0 && !ref.slice(colon + 1).includes('/')) return [ref.slice(0, colon), ref.slice(colon + 1)];
  return [ref, undefined];
}

/** docker-py `resolve_repository_name`: the first path part is a registry if it has '.' or ':' or is `localhost`. */
function resolveRepositoryName(name: string): [registry: string, repository: string] {
  if (name.includes('://')) throw new InvalidImageNameError(`Repository name cannot contain a scheme (${name})`);
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0 || !(first.includes('.') || first.includes(':') || first === 'localhost')) return [DOCKER_HUB, name];
  if (first.startsWith('-') || first.endsWith('-')) {
    throw new InvalidImageNameError(`Invalid index name (${first}). Cannot begin or end with a hyphen.`);
  }
  return [first === LEGACY_DOCKER_HUB ? DOCKER_HUB : first, name.slice(slash + 1)];
}
