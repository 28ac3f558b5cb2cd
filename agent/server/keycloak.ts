// A vantage6 5 node's token: Keycloak's client-credentials grant for the node's own client,
// `<node name>-node-client`, whose secret is the node's API key (vantage6-common 5.0.3
// `NodeClient`; agent/protocol/vantage6-5-protocol.md §1.1). There is no refresh token: a token
// is renewed by asking again.
import { request, type Dispatcher } from 'undici';
import { AuthRejectedError, ServerBadResponseError, ServerResponseError, ServerUnreachableError } from '../errors.js';

export interface KeycloakClient {
  /** Keycloak's base URL, e.g. `http://vantage6-auth-kc-service:7680`. */
  readonly url: string;
  readonly realm: string;
  /** The node's name at the hub. */
  readonly nodeName: string;
  /** The node's API key: its Keycloak client's secret. */
  readonly secret: string;
}

/** The Keycloak client id of a vantage6 5 node. */
export function nodeClientId(nodeName: string): string {
  return `${nodeName}-node-client`;
}

/** `{url}/realms/{realm}/protocol/openid-connect/token`. */
export function tokenEndpoint(client: Pick<KeycloakClient, 'url' | 'realm'>): string {
  return `${client.url.replace(/\/+$/, '')}/realms/${encodeURIComponent(client.realm)}/protocol/openid-connect/token`;
}

/** A new access token; a refused client is an AuthRejectedError naming the keys to check. */
export async function clientCredentialsToken(client: KeycloakClient, options: { timeoutMs: number; dispatcher?: Dispatcher }): Promise<string> {
  const endpoint = tokenEndpoint(client);
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: nodeClientId(client.nodeName), client_secret: client.secret, scope: 'openid' });
  let response: Dispatcher.ResponseData;
  try {
    response = await request(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
  } catch (error) {
    throw new ServerUnreachableError(new URL(endpoint).origin, error);
  }
  const text = await response.body.text().catch(() => '');
  const body = parsed(text);
  if ([400, 401, 404].includes(response.statusCode)) {
    // `{"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"}`,
    // `{"error": "Realm does not exist"}`.
    const why = body?.['error_description'] ?? body?.['error'] ?? text.slice(0, 200);
    throw new AuthRejectedError(
      `Keycloak at ${client.url} (realm ${client.realm}) refused client ${nodeClientId(client.nodeName)} (${String(why)}): check name (or V6_NODE_NAME), api_key (or V6_API_KEY), keycloak.url and keycloak.realm`,
    );
  }
  if (response.statusCode !== 200) throw new ServerResponseError('POST', endpoint, response.statusCode, body ?? text);
  const token = body?.['access_token'];
  if (typeof token !== 'string') throw new ServerBadResponseError('POST', endpoint, 'no access_token');
  return token;
}

function parsed(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
