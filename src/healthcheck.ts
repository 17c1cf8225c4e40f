// The container HEALTHCHECK: a serving role answers /services/ping on its port; a role
// without HTTP (purger, migrate) is healthy while its process runs. The role is read
// from the command line of PID 1, the server itself.
import { readFileSync } from 'node:fs';
import { loadConfig } from './config.js';

const DEFAULT_PORTS: Record<string, number> = { 'key-submission': 8000, 'key-retrieval': 8001, all: 8000 };

async function main(): Promise<number> {
  const args = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
  const role = args.find((a) => a in DEFAULT_PORTS);
  if (!role) return 0;
  const config = loadConfig(process.env, '/tmp');
  const port = config.listen.port ?? DEFAULT_PORTS[role]!;
  const response = await fetch(`http://127.0.0.1:${port}/services/ping`, { signal: AbortSignal.timeout(2000) });
  return response.status === 200 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  () => process.exit(1),
);
