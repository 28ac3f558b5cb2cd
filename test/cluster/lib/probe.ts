// Health checks over HTTP(S): true when the endpoint answers 200, with our CA and, for the
// endpoints that want one, a client certificate.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { CA, type KeyPair } from './pki.js';

export function httpsOk(url: string, client?: KeyPair): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        ca: readFileSync(CA.cert),
        ...(client === undefined ? {} : { cert: readFileSync(client.cert), key: readFileSync(client.key) }),
        timeout: 5000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}
