import test from 'ava';

test('tests run on Node 24 with OpenSSL 3.5, which decrypts PKCS#1 v1.5 messages', (t) => {
  t.is(process.versions.node.split('.')[0], '24');
  t.true(process.versions.openssl.startsWith('3.5'));
});
