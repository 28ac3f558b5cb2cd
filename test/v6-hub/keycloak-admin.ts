// Keycloak's admin REST API as the hub's administrator uses it, with Keycloak's bootstrap admin
// (master realm, `admin-cli`): the realm's creation for the snapshot, a client's access-token
// lifetime (what an institution's Keycloak admin sets per client), and the realm's login events,
// which say when each client obtained a token.
import { MASTER_ADMIN } from './realm.js';

/** A token of Keycloak's bootstrap admin (master realm, password grant on `admin-cli`). */
export async function masterAdminToken(keycloakUrl: string): Promise<string> {
  const answer = await fetch(`${keycloakUrl}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: MASTER_ADMIN.username, password: MASTER_ADMIN.password }),
  });
  if (!answer.ok) throw new Error(`Keycloak's bootstrap admin could not log in: ${answer.status} ${await answer.text()}`);
  return ((await answer.json()) as { access_token: string }).access_token;
}

/** One of Keycloak's recorded events (`GET /admin/realms/<realm>/events`). */
export interface KeycloakEvent {
  /** Milliseconds since the epoch. */
  time: number;
  type: string;
  clientId: string;
}

export class KeycloakAdmin {
  constructor(
    readonly keycloakUrl: string,
    readonly realm: string,
  ) {}

  /** A JSON request to `/admin/realms/<realm>/<path>` (a fresh admin token each time: master's live 60 s). */
  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await fetch(`${this.keycloakUrl}/admin/realms/${this.realm}/${path}`, {
      method,
      headers: { authorization: `Bearer ${await masterAdminToken(this.keycloakUrl)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!answer.ok) throw new Error(`Keycloak: ${method} ${path} answered ${answer.status} ${await answer.text()}`);
    const text = await answer.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** Gives the client's access tokens `seconds` of life (its `access.token.lifespan`; the realm's otherwise). */
  async setAccessTokenLifespan(clientId: string, seconds: number): Promise<void> {
    const [client] = await this.request<{ id: string; attributes?: Record<string, string> }[]>('GET', `clients?clientId=${encodeURIComponent(clientId)}`);
    if (client === undefined) throw new Error(`Keycloak has no client ${clientId} in the ${this.realm} realm`);
    await this.request('PUT', `clients/${client.id}`, { ...client, attributes: { ...client.attributes, 'access.token.lifespan': String(seconds) } });
  }

  /** Starts recording the realm's events of these types (Keycloak keeps none by default). */
  async recordEvents(types: readonly string[]): Promise<void> {
    const config = await this.request<Record<string, unknown>>('GET', 'events/config');
    await this.request('PUT', 'events/config', { ...config, eventsEnabled: true, enabledEventTypes: types });
  }

  /** The recorded events of a type for a client, oldest first. */
  async events(type: string, clientId: string): Promise<KeycloakEvent[]> {
    const events = await this.request<KeycloakEvent[]>('GET', `events?type=${type}&client=${encodeURIComponent(clientId)}&max=10000`);
    return events.sort((a, b) => a.time - b.time);
  }
}
