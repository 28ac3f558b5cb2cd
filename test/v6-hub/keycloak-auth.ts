// Getting tokens from the hub's Keycloak the ways vantage6 5.0.3's clients do: a node (and a
// service-account user) with the client-credentials grant on its own confidential client; a
// person with the device authorization grant on the public client, the browser part of which
// (the login form at the verification URI) is done here as the person would in a browser.

export interface Token {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
}

function oidc(keycloakUrl: string, realm: string): string {
  return `${keycloakUrl}/realms/${realm}/protocol/openid-connect`;
}

async function postForm(url: string, form: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
}

/** The client-credentials grant: what a node does with its client id and secret (its "API key"). */
export async function clientCredentialsToken(keycloakUrl: string, realm: string, clientId: string, clientSecret: string): Promise<Token> {
  const answer = await postForm(`${oidc(keycloakUrl, realm)}/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
  if (!answer.ok) throw new Error(`Keycloak refused the client-credentials grant for ${clientId}: ${answer.status} ${await answer.text()}`);
  return (await answer.json()) as Token;
}

/** A browser's cookies, enough for Keycloak's login pages. */
class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(answer: Response): void {
    for (const header of answer.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      if (eq > 0) this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** Follows redirects as a browser would, keeping cookies; returns the final page. */
async function browse(jar: CookieJar, url: string, init: RequestInit = {}): Promise<{ url: string; status: number; html: string }> {
  let current = url;
  let request: RequestInit = init;
  for (let hops = 0; hops < 10; hops++) {
    const answer = await fetch(current, { ...request, redirect: 'manual', headers: { ...(request.headers as Record<string, string>), cookie: jar.header() } });
    jar.take(answer);
    const location = answer.headers.get('location');
    if (answer.status >= 300 && answer.status < 400 && location) {
      await answer.arrayBuffer();
      current = new URL(location, current).toString();
      request = {};
      continue;
    }
    return { url: current, status: answer.status, html: await answer.text() };
  }
  throw new Error(`too many redirects from ${url}`);
}

/** The message on a Keycloak page (a login error, a refused password). */
function feedback(html: string): string {
  return (/class="[^"]*(?:alert|error|feedback)[^"]*"[^>]*>([\s\S]{0,400})/.exec(html)?.[1] ?? html.slice(0, 800)).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
}

function formAction(html: string, page: string): string | undefined {
  const form = /<form[^>]*id="kc-form-login"[^>]*>/.exec(html)?.[0] ?? /<form[^>]*>/.exec(html)?.[0];
  const action = form && /action="([^"]+)"/.exec(form)?.[1];
  return action ? new URL(action.replace(/&amp;/g, '&'), page).toString() : undefined;
}

/**
 * The device authorization grant on `clientId` (the public client), as vantage6's Python client
 * 5.0.3 `Client.authenticate()` does it; the person's part (opening the verification URI and
 * logging in) done with fetch.
 */
export async function deviceLogin(keycloakUrl: string, realm: string, clientId: string, username: string, password: string): Promise<Token> {
  const start = await postForm(`${oidc(keycloakUrl, realm)}/auth/device`, { client_id: clientId, scope: 'openid' });
  if (!start.ok) throw new Error(`Keycloak refused the device authorization request of ${clientId}: ${start.status} ${await start.text()}`);
  const device = (await start.json()) as { device_code: string; verification_uri_complete: string; interval?: number };

  const jar = new CookieJar();
  const login = await browse(jar, device.verification_uri_complete);
  const action = formAction(login.html, login.url);
  if (!action) throw new Error(`no login form at ${login.url} (${login.status}): ${login.html.slice(0, 500)}`);
  let page = await browse(jar, action, { method: 'POST', body: new URLSearchParams({ username, password, credentialId: '' }) });
  // What Keycloak asks next, answered as the person would: a new password for the temporary one
  // HQ gives the users it makes (kept the same here, so the fixture's password stays valid), the
  // profile fields the realm's user profile requires, a consent.
  for (let step = 0; step < 5; step++) {
    const next = formAction(page.html, page.url);
    if (/id="kc-form-login"/.test(page.html)) {
      throw new Error(`Keycloak did not accept ${username}'s login on the device verification page: ${feedback(page.html)}`);
    } else if (next && /name="password-new"/.test(page.html)) {
      page = await browse(jar, next, { method: 'POST', body: new URLSearchParams({ 'password-new': password, 'password-confirm': password }) });
    } else if (next && /id="kc-update-profile-form"/.test(page.html)) {
      page = await browse(jar, next, {
        method: 'POST',
        body: new URLSearchParams({ username, email: `${username}@example.org`, firstName: username, lastName: 'Person' }),
      });
    } else if (next && /name="accept"/.test(page.html)) {
      page = await browse(jar, next, { method: 'POST', body: new URLSearchParams({ accept: 'Yes' }) });
    } else {
      break;
    }
  }

  const answer = await postForm(`${oidc(keycloakUrl, realm)}/token`, {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    client_id: clientId,
    device_code: device.device_code,
  });
  if (!answer.ok) throw new Error(`Keycloak gave no token for ${username}'s device login: ${answer.status} ${await answer.text()}; the last page (${page.url}): ${feedback(page.html)}`);
  return (await answer.json()) as Token;
}
