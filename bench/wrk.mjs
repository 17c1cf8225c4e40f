// wrk (Debian's package) as the load generator for downloads: a C load generator that is
// not the ceiling the way one in Node is. Installed with apt-get when missing and root.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, round } from './lib.mjs';

/** The wrk binary, installing it if it can; undefined when there is none. */
export function findWrk() {
  const found = () => ['wrk', '/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => spawnSync(p, ['-v']).error === undefined);
  if (found()) return found();
  if (process.getuid?.() === 0) {
    spawnSync('sh', ['-c', 'apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1']);
  }
  return found();
}

const toMs = (value, unit) => Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? NaN);

/** `seconds` of GETs of `url` over `connections` connections; requests/s and latency percentiles. */
export function runWrk(wrk, url, connections, seconds) {
  const out = execFileSync(wrk, ['-t', '2', '-c', String(connections), '-d', `${seconds}s`, '--latency', url], { encoding: 'utf8' });
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const percentile = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? round(toMs(m[1], m[2]), 2) : NaN;
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  const socketErrors = /Socket errors: (.*)/.exec(out)?.[1];
  if (!(perSecond > 0) || Number(errors) > 0 || socketErrors) throw new Error(`wrk on ${url}: ${out}`);
  return { perSecond: round(perSecond, 1), p50Ms: percentile(50), p99Ms: percentile(99), failed: 0, connections };
}

/** nginx (one worker, as the other servers are one process) serving `body` as a static file. */
export async function startNginx(body) {
  const nginx = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);
  if (!nginx) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-nginx-'));
  await writeFile(path.join(dir, 'day.zip'), body);
  const port = await freePort();
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${port};
    location / { root ${dir}; try_files /day.zip =404; default_type application/zip; }
  }
}
`,
  );
  const child = spawn(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 100) throw new Error('nginx did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: async () => {
      child.kill('SIGQUIT');
      await new Promise((resolve) => child.once('exit', resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
