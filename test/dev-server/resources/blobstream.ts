// Large result store (spec A13): status, upload (octet-stream → uuid), download.
import type { ServerContext } from '../context.js';
import { msg, type Router } from '../http/router.js';

export function registerBlobstreamRoutes(router: Router, ctx: ServerContext): void {
  router.add('GET', 'blobstream/status', (request) => {
    ctx.tokens.authenticate(request.raw.headers);
    return { status: 200, body: { blob_store_enabled: ctx.blobStoreEnabled } };
  });

  router.add('POST', 'blobstream', async (request) => {
    ctx.tokens.authenticate(request.raw.headers);
    if (!ctx.blobStoreEnabled) throw msg(400, 'Blob store is not enabled on this server');
    const uuid = ctx.state.storeBlob(await request.bytes());
    return { status: 201, body: { uuid } };
  });

  router.add('GET', 'blobstream/:uuid', (request) => {
    ctx.tokens.authenticate(request.raw.headers);
    const blob = ctx.state.blobs.get(request.params.uuid ?? '');
    if (!blob) throw msg(404, `Blob ${request.params.uuid} not found`);
    return { status: 200, body: blob };
  });
}
