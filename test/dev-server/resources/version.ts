// The server's version (no authentication), by which a node tells a 4.x server from a 5 hub.
import type { Router } from '../http/router.js';

/** The 4.x release whose protocol the development server speaks (the spec was read off 4.14). */
export const DEV_SERVER_VERSION = '4.14.0';

export function registerVersionRoute(router: Router): void {
  router.add('GET', 'version', () => ({ status: 200, body: { version: DEV_SERVER_VERSION } }));
}
