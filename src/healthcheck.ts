// The container HEALTHCHECK: a role with a server answers /services/ping on its first
// server's port; a role without one (purger, migrate) is healthy while its process runs.
// The role is read from the command line of PID 1, the server itself.
import { readFileSync } from 'node:fs';
import { parseEnvironment, serviceSettings } from './config.js';
import { isRole, roleSpec, serverPort } from './roles.js';

async function main(): Promise<number> {
  const role = readFileSync('/proc/1/cmdline', 'utf8').split('\0').find(isRole);
  const server = role && roleSpec(role).servers[0];
  if (!role || !server) return 0;
  const port = serverPort(role, server, serviceSettings(parseEnvironment(process.env)).listen.port);
  const response = await fetch(`http://127.0.0.1:${port}/services/ping`, { signal: AbortSignal.timeout(2000) });
  return response.status === 200 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  () => process.exit(1),
);
