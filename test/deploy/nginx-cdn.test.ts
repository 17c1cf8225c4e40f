// The CDN stand-in of docker-compose, for real: Debian's nginx with the project's config
// in front of a running key-retrieval.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dateNumber } from '../../src/protocol/time.js';
import { claimedPhone, makeKeys, request } from '../helpers/app-client.js';
import { freePort } from '../../src/clients/free-port.js';
import { retrievePath } from '../helpers/phone-download.js';
import { startSystem, type TestSystem } from '../helpers/servers.js';

const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);
if (!NGINX) console.warn("nginx-cdn.test: SKIPPED, no nginx binary (.ci/run installs Debian's nginx; apt-get install nginx)");

describe.skipIf(!NGINX)('deploy/nginx/cdn.conf.template in front of key-retrieval', () => {
  let system: TestSystem;
  let nginx: ChildProcess;
  let cdn: string;
  let dir: string | undefined;

  beforeAll(async () => {
    system = await startSystem();
    dir = await mkdtemp(path.join(tmpdir(), 'cdn-'));
    await mkdir(path.join(dir, 'cache'));
    await chmod(dir, 0o777);
    await chmod(path.join(dir, 'cache'), 0o777);
    const port = await freePort();
    const template = await readFile(new URL('../../deploy/nginx/cdn.conf.template', import.meta.url), 'utf8');
    const values: Record<string, string> = {
      CACHE_DIR: path.join(dir, 'cache'),
      RETRIEVAL_UPSTREAM: new URL(system.retrievalUrl).host,
      LISTEN_PORT: `127.0.0.1:${port}`,
    };
    await writeFile(
      path.join(dir, 'cdn.conf'),
      template.replace(/\$\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole),
    );
    await writeFile(
      path.join(dir, 'nginx.conf'),
      `daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
       events {}
       http {
         access_log off;
         client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
         uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
         include ${dir}/cdn.conf;
       }`,
    );
    nginx = spawn(NGINX!, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    cdn = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      const up = await fetch(`${cdn}/services/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (i > 100) throw new Error(`nginx did not start: ${await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await system?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the second request for a day file from its cache, byte for byte', async () => {
    const now = system.clock.now();
    const phone = await claimedPhone(system.submissionUrl);
    system.clock.ms = now - 86_400_000;
    expect((await phone.upload(system.submissionUrl, makeKeys(5, system.clock.ms), system.clock.ms)).status).toBe(200);
    system.clock.ms = now;
    const path_ = retrievePath(dateNumber(now) - 1, now);

    const first = await request(cdn + path_);
    const second = await request(cdn + path_);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache-status')).toBe('MISS');
    expect(second.status).toBe(200);
    expect(second.headers.get('x-cache-status')).toBe('HIT');
    expect(second.bytes.equals(first.bytes)).toBe(true);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect((await request(system.retrievalUrl + path_)).bytes.equals(first.bytes)).toBe(true);
  });

  it('never caches a bad HMAC', async () => {
    const day = dateNumber(system.clock.now()) - 2;
    const bad = `/retrieve/302/${day}/${'0'.repeat(64)}`;
    for (let i = 0; i < 3; i++) {
      const result = await request(cdn + bad);
      expect(result.status).toBe(401);
      expect(result.text).toBe('unauthorized\n');
      expect(result.headers.get('x-cache-status')).not.toBe('HIT');
    }
    // And a good request for the same day after it is a fresh miss, not a cached 401.
    const good = await request(cdn + retrievePath(day, system.clock.now()));
    expect(good.status).toBe(200);
    expect(good.headers.get('x-cache-status')).toBe('MISS');
  });

  it('passes everything else through uncached', async () => {
    const config = await request(`${cdn}/exposure-configuration/CA.json`);
    expect(config.status).toBe(200);
    expect(config.headers.get('x-cache-status')).toBeNull();
    expect((await request(`${cdn}/nope`)).status).toBe(404);
  });
});
