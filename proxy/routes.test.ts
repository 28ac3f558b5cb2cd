import test from 'ava';
import { ProxyError, type ProxyErrorCode } from './errors.js';
import { resolveRequest, type Route } from './routes.js';

const BASE = 'http://server.example:5000/api';

test('vantage6 proxy routes, everything else passed through below the API base', (t) => {
  const cases: Array<[method: string, target: string, kind: Route['kind'], upstream: string]> = [
    ['POST', '/task', 'create-task', `${BASE}/task`],
    ['GET', '/result?task_id=4&page=2', 'results', `${BASE}/result?task_id=4&page=2`],
    ['GET', '/result/17', 'result', `${BASE}/result/17`],
    ['GET', '/blobstream/0b5c', 'blob-download', `${BASE}/blobstream/0b5c`],
    ['GET', '/blobstream/status', 'pass-through', `${BASE}/blobstream/status`],
    ['POST', '/blobstream', 'blob-upload', `${BASE}/blobstream`],
    ['GET', '/task/3', 'pass-through', `${BASE}/task/3`],
    ['PATCH', '/run/8?x=1', 'pass-through', `${BASE}/run/8?x=1`],
    ['HEAD', '/organization/1', 'pass-through', `${BASE}/organization/1`],
    ['DELETE', '/port?run_id=3', 'pass-through', `${BASE}/port?run_id=3`],
  ];
  for (const [method, target, kind, upstream] of cases) {
    const resolved = resolveRequest(method, target, BASE);
    t.is(resolved.route.kind, kind, `${method} ${target}`);
    t.is(resolved.upstream.href, upstream, `${method} ${target}`);
  }
  t.deepEqual(resolveRequest('GET', '/result/17', BASE).route, { kind: 'result', id: 17 });
  t.is(resolveRequest('GET', '/task/1', 'http://server.example').upstream.href, 'http://server.example/task/1');
});

test('requests that could leave the server API, or have no route, are refused with their code', (t) => {
  const cases: Array<[method: string, target: string, code: ProxyErrorCode]> = [
    ['GET', 'http://elsewhere.example/api/task', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '//elsewhere.example/api/task', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/../token/node', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/%2E%2E/%2e%2e/x', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/./1', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/%zz', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task\\..\\x', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/..%2Fadmin/x', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/..%2fadmin', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/1%2F..%2F..%2Fadmin', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/%252e%252e/x', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/..%252Fadmin', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/%25252e%25252e', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/..%5Cadmin', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/%5c', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/..;/admin', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/%2e%2e;x/admin', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/%c0%ae%c0%ae/admin', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/task/%2525252525252e', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/result', 'V6_PROXY_BAD_REQUEST'],
    ['GET', '/result/abc', 'V6_PROXY_NOT_FOUND'],
    ['GET', '/', 'V6_PROXY_NOT_FOUND'],
    ['OPTIONS', '/task', 'V6_PROXY_NOT_FOUND'],
    ['CONNECT', '/task', 'V6_PROXY_NOT_FOUND'],
  ];
  for (const [method, target, code] of cases) {
    const error = t.throws(() => resolveRequest(method, target, BASE), { instanceOf: ProxyError }, `${method} ${target}`);
    t.is(error?.code, code, `${method} ${target}`);
  }
});
