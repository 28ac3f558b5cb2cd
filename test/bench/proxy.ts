// Proxy benchmark (issue 4 item 5): added latency of a small GET through the proxy against the
// same GET straight to the dev server, a 50 MB encrypted result fetched and decrypted through the
// proxy, and the AES-256-CTR throughput of agent/protocol against OpenSSL on the same data.
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RsaCryptor } from '../../agent/protocol/encryption.js';
import { startProxy } from '../../proxy/proxy.js';
import { LiveTokens } from '../../queue/live-tokens.js';
import { startDevServer } from '../dev-server/index.js';
import { api, nodeToken } from '../dev-server/testkit.js';
import { UserClient } from '../dev-server/user-client.js';
import { startRedis } from '../support/redis.js';

const IMAGE = 'v6-test/algorithms:1';
const vectors = JSON.parse(readFileSync(new URL('../fixtures/vectors/crypto.json', import.meta.url), 'utf8')) as { key_pairs: { private_key_pem: string; public_key_str: string }[] };

function get(url: string, token: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const rssMb = (): number => process.memoryUsage.rss() / 1048576;

export async function benchProxy(print: (l: string) => void = console.log): Promise<void> {
  const external = process.env.REDIS_URL;
  const redisServer = external ? undefined : await startRedis();
  const redis = new Redis(external ?? redisServer!.url);
  const server = await startDevServer({ port: 0 });
  const alpha = vectors.key_pairs[0]!;
  const cryptor = RsaCryptor.fromPem(alpha.private_key_pem);
  try {
    // Organization 1's node in the encrypted collaboration 2 (node 3), a parent task and its live token.
    const nodeJwt = await nodeToken(server, 3);
    await api(server, 'PATCH', 'organization/1', nodeJwt, { public_key: alpha.public_key_str });
    const user = new UserClient(`${server.url}${server.apiPath}`);
    await user.login('researcher-alpha', 'alpha-password');
    const task = await user.createTask({ collaborationId: 2, organizations: [{ id: 1, input: cryptor.encryptBytesToStr(Buffer.from('{}'), alpha.public_key_str) }], image: IMAGE });
    const [run] = await user.getRuns(task.id);
    const token = ((await api(server, 'POST', 'token/container', nodeJwt, { task_id: task.id, image: IMAGE })).body as { container_token: string }).container_token;
    const prefix = `bench-proxy-${Date.now().toString(36)}`;
    await new LiveTokens(redis, prefix).grant(run!.id, token);
    const config = {
      server_url: 'http://127.0.0.1',
      port: server.port,
      api_path: server.apiPath,
      proxy: { url: 'http://127.0.0.1', port: 7654, listen_port: 7654, max_body_bytes: 10 * 1024 * 1024 },
    };
    const proxy = await startProxy({ config, logger: pino({ level: 'silent' }), cryptor, liveTokens: new LiveTokens(redis, prefix), host: '127.0.0.1', listenPort: 0 });
    try {
      // Latency: alternate direct and proxied so both see the same machine load.
      const direct: number[] = [];
      const proxied: number[] = [];
      const n = 2000;
      for (let i = 0; i < n + 100; i++) {
        const t0 = performance.now();
        await get(`${server.url}${server.apiPath}/task/${task.id}`, token);
        const t1 = performance.now();
        const answer = await get(`${proxy.url}/task/${task.id}`, token);
        const t2 = performance.now();
        if (answer.status !== 200) throw new Error(`proxied GET answered ${answer.status}`);
        if (i >= 100) {
          direct.push(t1 - t0);
          proxied.push(t2 - t1);
        }
      }
      direct.sort((a, b) => a - b);
      proxied.sort((a, b) => a - b);
      const added50 = pct(proxied, 50) - pct(direct, 50);
      const added99 = pct(proxied, 99) - pct(direct, 99);
      print(`proxy: GET /task/<id> x${n}, direct p50 ${pct(direct, 50).toFixed(3)} ms p99 ${pct(direct, 99).toFixed(3)} ms; through the proxy p50 ${pct(proxied, 50).toFixed(3)} ms p99 ${pct(proxied, 99).toFixed(3)} ms`);
      print(`  added latency p50 ${added50.toFixed(3)} ms (target 1 ms: ${added50.toFixed(2)}x), p99 ${added99.toFixed(3)} ms`);

      // 50 MB result, encrypted for organization 1, fetched through the proxy which decrypts it to base64.
      const size = 50 * 1024 * 1024;
      const plain = randomBytes(size);
      const stored = cryptor.encryptBytesToStr(plain, alpha.public_key_str);
      const patched = await api(server, 'PATCH', `run/${run!.id}`, nodeJwt, { result: stored });
      if (patched.status !== 200) {
        print(`  50 MB result: the dev server refused the PATCH (${patched.status}); not measured`);
      } else {
        global.gc?.();
        const before = rssMb();
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
        const t0 = performance.now();
        const answer = await get(`${proxy.url}/result/${run!.id}`, token);
        const ms = performance.now() - t0;
        clearInterval(sampler);
        peak = Math.max(peak, rssMb());
        const mbps = size / 1048576 / (ms / 1000);
        print(`  50 MB result through the proxy: ${answer.status}, ${(answer.bytes / 1048576).toFixed(1)} MB body in ${ms.toFixed(0)} ms = ${mbps.toFixed(0)} MB/s of plaintext (target 300: ${(mbps / 300).toFixed(2)}x)`);
        print(`  RSS growth during the fetch ${(peak - before).toFixed(0)} MB (target < 64 MB: ${((peak - before) / 64).toFixed(2)}x; proxy, dev server and client share this process)`);
      }
    } finally {
      await proxy.close();
    }

    // AES-256-CTR: the module's stream cipher path (Node crypto) vs openssl enc on the same 256 MB.
    const data = randomBytes(256 * 1024 * 1024);
    const key = randomBytes(32);
    const iv = randomBytes(16);
    let t0 = performance.now();
    const stream = cryptor.encryptStream(alpha.public_key_str);
    let outBytes = 0;
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => (outBytes += chunk.length));
      stream.on('end', resolve);
      stream.on('error', reject);
      for (let offset = 0; offset < data.length; offset += 1 << 20) stream.write(data.subarray(offset, offset + (1 << 20)));
      stream.end();
    });
    const moduleMbps = 256 / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    const c = createCipheriv('aes-256-ctr', key, iv);
    for (let offset = 0; offset < data.length; offset += 1 << 20) c.update(data.subarray(offset, offset + (1 << 20)));
    c.final();
    const nodeMbps = 256 / ((performance.now() - t0) / 1000);
    const dir = await mkdtemp(join(tmpdir(), 'v6-aes-'));
    try {
      const file = join(dir, 'data');
      await writeFile(file, data);
      t0 = performance.now();
      execFileSync('openssl', ['enc', '-aes-256-ctr', '-K', key.toString('hex'), '-iv', iv.toString('hex'), '-in', file, '-out', '/dev/null']);
      const opensslMbps = 256 / ((performance.now() - t0) / 1000);
      print(`aes-256-ctr on 256 MB: encryption module stream ${moduleMbps.toFixed(0)} MB/s (${outBytes >> 20} MB out), raw node:crypto ${nodeMbps.toFixed(0)} MB/s, openssl enc ${opensslMbps.toFixed(0)} MB/s (incl. file read); module/openssl ${(moduleMbps / opensslMbps).toFixed(2)}x`);
    } catch (error) {
      print(`aes-256-ctr: module ${moduleMbps.toFixed(0)} MB/s, raw node:crypto ${nodeMbps.toFixed(0)} MB/s; openssl not run: ${(error as Error).message}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    redis.disconnect();
    await server.close();
    await redisServer?.close();
  }
}
