// The proxy as algorithm pods reach it: `proxy.url` with its host resolved to an address by the
// agent. Algorithm pods get no DNS (their NetworkPolicy allows the proxy's port and nothing
// else, so no lookup can carry data out); the agent, which may ask cluster DNS, resolves the
// name (in the chart, the node Service's ClusterIP) and hands algorithms the address.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AgentError, describe } from '../errors.js';

export type Lookup = (hostname: string) => Promise<{ address: string; family: number }>;

/** How long a resolved address is used before the name is looked up again. */
const TTL_MS = 10_000;

export class ProxyAddress {
  private cached: { url: string; until: number } | undefined;

  constructor(
    private readonly proxyUrl: string,
    private readonly lookup: Lookup = (hostname) => dnsLookup(hostname),
    private readonly now: () => number = Date.now,
  ) {}

  /** `proxy.url` with an address for its host, without a trailing slash (vantage6 appends `:PORT`). */
  async url(): Promise<string> {
    if (this.cached !== undefined && this.now() < this.cached.until) return this.cached.url;
    const parsed = new URL(this.proxyUrl);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    let address = host;
    if (isIP(host) === 0) {
      try {
        address = (await this.lookup(host)).address;
      } catch (error) {
        throw new AgentError(
          'V6_PROXY_UNRESOLVABLE',
          `the host of proxy.url (${host}) does not resolve (${describe(error)}); algorithm pods reach the proxy by the address the agent resolves it to, so set proxy.url to the node Service's name or address`,
          { retryable: true, cause: error },
        );
      }
    }
    parsed.hostname = isIP(address) === 6 ? `[${address}]` : address;
    const url = parsed.toString().replace(/\/+$/, '');
    this.cached = { url, until: this.now() + TTL_MS };
    return url;
  }
}
