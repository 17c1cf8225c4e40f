// The roles of `diagnosis-server <role>`: one table that the command line and its usage
// text, configuration, start-up and the container healthcheck all read. Kept free of
// imports so that the healthcheck loads nothing else.

export type Server = 'key-submission' | 'key-retrieval';

export interface RoleSpec {
  /** One line of the usage text. */
  summary: string;
  /** The HTTP servers it runs; their settings are required, and the healthcheck pings the first. */
  servers: readonly Server[];
  /** Applies migrations before anything else (retrieval may run on a read replica: it never writes). */
  migrates: boolean;
  /** The retention purge: never, once and exit, or once and then every PURGE_INTERVAL_SECONDS. */
  purge: 'never' | 'once' | 'loop';
  /** Runs until stopped; otherwise it does its work and exits. */
  stays: boolean;
  /** For one person's machine: loopback only, development secrets, embedded Postgres. */
  local?: boolean;
}

export const ROLES = {
  'key-submission': {
    summary: 'one-time codes, key claim and uploads (port 8000)',
    servers: ['key-submission'],
    migrates: true,
    purge: 'loop',
    stays: true,
  },
  'key-retrieval': {
    summary: 'signed key files for phones, through a CDN (port 8001)',
    servers: ['key-retrieval'],
    migrates: false,
    purge: 'never',
    stays: true,
  },
  migrate: { summary: 'apply database migrations and exit', servers: [], migrates: true, purge: 'never', stays: false },
  purge: {
    summary: 'run the retention purge once and exit (for a cron job or scheduled task)',
    servers: [],
    migrates: true,
    purge: 'once',
    stays: false,
  },
  purger: { summary: 'run the retention purge every PURGE_INTERVAL_SECONDS until stopped', servers: [], migrates: true, purge: 'loop', stays: true },
  all: {
    summary: 'every role in one process, for local use (embedded Postgres by default)',
    servers: ['key-submission', 'key-retrieval'],
    migrates: true,
    purge: 'loop',
    stays: true,
    local: true,
  },
} as const satisfies Record<string, RoleSpec>;

export type Role = keyof typeof ROLES;

export function isRole(name: string): name is Role {
  return Object.hasOwn(ROLES, name);
}

export function roleSpec(role: Role): RoleSpec {
  return ROLES[role];
}

const DEFAULT_PORTS: Record<Server, number> = { 'key-submission': 8000, 'key-retrieval': 8001 };

/**
 * The port a server of `role` listens on. PORT (or BIND_ADDR) names the role's first
 * server's port, and a second server takes the next one (0 stays 0: any free port).
 */
export function serverPort(role: Role, server: Server, configuredPort: number | undefined): number {
  const { servers } = roleSpec(role);
  const index = Math.max(0, servers.indexOf(server));
  if (configuredPort === 0) return 0;
  if (configuredPort !== undefined) return configuredPort + index;
  return index === 0 ? DEFAULT_PORTS[server] : DEFAULT_PORTS[servers[0]!] + index;
}

/** The usage text's list of roles. */
export function roleUsage(): string {
  return Object.entries(ROLES)
    .map(([name, spec]) => `  ${name.padEnd(16)} ${spec.summary}`)
    .join('\n');
}
