// The relay's accounting: each request named as the API server's audit log names it, and the user
// its bearer token claims.
import test from 'ava';
import { tokenUser, verbOf } from './kube-api-relay.js';

test('requests are named by verb and resource as the audit log names them', (t) => {
  const cases: [string, string, string][] = [
    ['GET', '/apis/batch/v1/namespaces/tasks/jobs?labelSelector=node_id%3Dabc', 'list jobs'],
    ['GET', '/apis/batch/v1/namespaces/tasks/jobs/vantage6-run-5', 'get jobs'],
    ['DELETE', '/apis/batch/v1/namespaces/tasks/jobs/vantage6-run-5', 'delete jobs'],
    ['POST', '/apis/batch/v1/namespaces/tasks/jobs', 'create jobs'],
    // Python's client sends watch=True, client-node watch=true.
    ['GET', '/api/v1/namespaces/tasks/pods?labelSelector=app%3Dx&watch=True', 'watch pods'],
    ['GET', '/apis/batch/v1/namespaces/tasks/jobs?watch=true&resourceVersion=12', 'watch jobs'],
    ['GET', '/api/v1/namespaces/tasks/pods/vantage6-run-5-abcde/log?follow=true', 'get pods/log'],
    ['PATCH', '/api/v1/namespaces/tasks/secrets/s', 'patch secrets'],
    ['DELETE', '/api/v1/namespaces/tasks/secrets', 'deletecollection secrets'],
    ['GET', '/api/v1/namespaces/tasks', 'get namespaces'],
    ['GET', '/api/v1/namespaces', 'list namespaces'],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', 'create selfsubjectaccessreviews'],
  ];
  for (const [method, url, expected] of cases) t.is(verbOf(method, url), expected, `${method} ${url}`);
});

test("a request is counted for the user its bearer token names, or as anonymous without one", (t) => {
  const jwt = (claims: object) => ['{"alg":"RS256"}', JSON.stringify(claims)].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.signature';
  t.is(tokenUser(`Bearer ${jwt({ sub: 'system:serviceaccount:v6u-alpha:vantage6-node' })}`), 'system:serviceaccount:v6u-alpha:vantage6-node');
  t.is(tokenUser(undefined), 'anonymous');
  t.is(tokenUser('Bearer not-a-jwt'), 'anonymous');
  t.is(tokenUser(`Bearer ${jwt({ iss: 'x' })}`), 'unknown');
});
