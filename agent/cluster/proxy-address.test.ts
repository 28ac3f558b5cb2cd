import test from 'ava';
import { AgentError } from '../errors.js';
import { ProxyAddress, type Lookup } from './proxy-address.js';

function lookups(answers: Record<string, string>): { lookup: Lookup; asked: string[] } {
  const asked: string[] = [];
  const lookup: Lookup = async (hostname) => {
    asked.push(hostname);
    const address = answers[hostname];
    if (address === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return { address, family: address.includes(':') ? 6 : 4 };
  };
  return { lookup, asked };
}

test('algorithms get the proxy by address: the Service name resolved by the agent', async (t) => {
  const { lookup } = lookups({ 'site-a-v6-node.vantage6-node.svc.cluster.local': '10.43.0.12' });
  t.is(await new ProxyAddress('http://site-a-v6-node.vantage6-node.svc.cluster.local', lookup).url(), 'http://10.43.0.12');
});

test('an address stays as it is, with no lookup; IPv6 in brackets', async (t) => {
  const { lookup, asked } = lookups({ 'proxy.v6': 'fd00::12' });
  t.is(await new ProxyAddress('http://127.0.0.1', lookup).url(), 'http://127.0.0.1');
  t.is(await new ProxyAddress('http://[fd00::1]', lookup).url(), 'http://[fd00::1]');
  t.deepEqual(asked, []);
  t.is(await new ProxyAddress('https://proxy.v6/', lookup).url(), 'https://[fd00::12]');
});

test('the name is looked up again once the address is 10 s old', async (t) => {
  const { lookup, asked } = lookups({ proxy: '10.0.0.1' });
  let now = 0;
  const address = new ProxyAddress('http://proxy', lookup, () => now);
  await address.url();
  now = 9_999;
  await address.url();
  t.is(asked.length, 1);
  now = 10_000;
  await address.url();
  t.is(asked.length, 2);
});

test('a name that does not resolve is a retryable error naming proxy.url', async (t) => {
  const { lookup } = lookups({});
  const error = await t.throwsAsync(new ProxyAddress('http://nowhere.invalid', lookup).url(), { instanceOf: AgentError });
  t.is(error.code, 'V6_PROXY_UNRESOLVABLE');
  t.true(error.retryable);
  t.regex(error.message, /the host of proxy\.url \(nowhere\.invalid\) does not resolve .*ENOTFOUND/);
});
