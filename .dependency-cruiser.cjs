// The arrows of ARCHITECTURE.md, checked by `npm run check`. Layers, top to bottom:
//   entry      launch.ts, cli.ts, healthcheck.ts, start.ts, dev-secrets.ts, tools/
//   roles      submission/, retrieval/, purge/, release/, simulator/
//   services   http/, exports/, events/, telemetry/, clients/
//   foundation protocol/, crypto/, db/, network/, config.ts, roles.ts (the role table), logger.ts, package-root.ts, code-cache.ts (and generated/)
// An import may point down or stay in its own folder; never up, never across roles.
const ENTRY = '^src/(launch|cli|healthcheck|start|dev-secrets)\\.ts$|^src/tools/';
const ROLES = '^src/(submission|retrieval|purge|release|simulator)/';
const SERVICES = '^src/(http|exports|events|telemetry|clients)/';

/** `from` may not import `to`. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from, to });

module.exports = {
  forbidden: [
    forbid('no-cycles', 'A cycle makes two modules one: neither can be read or changed alone.', {}, { circular: true }),
    forbid(
      'foundation-stays-down',
      'protocol, crypto, db, network, config, the role table and logger are the bottom layer: they import no other layer.',
      { path: '^src/(protocol|crypto|db|network)/|^src/(config|roles|logger|package-root|code-cache)\\.ts$' },
      { path: `${ENTRY}|${ROLES}|${SERVICES}` },
    ),
    forbid(
      'services-stay-down',
      'Shared services serve the roles and never import one (or the entry points).',
      { path: SERVICES },
      { path: `${ENTRY}|${ROLES}` },
    ),
    forbid('roles-stay-down', 'A role never imports the entry points that start it.', { path: ROLES }, { path: ENTRY }),
    forbid(
      'roles-apart',
      'Nothing reaches across roles: what two share moves down a layer.',
      { path: '^src/(submission|retrieval|purge|release|simulator)/' },
      { path: '^src/(submission|retrieval|purge|release|simulator)/', pathNot: '^src/$1/' },
    ),
    forbid(
      'protocol-imports-no-layer',
      'The protocol is the lowest layer: crypto and db may use its types, never the reverse.',
      { path: '^src/protocol/' },
      { path: '^src/(crypto|db|network)/|^src/(config|roles|logger|package-root)\\.ts$' },
    ),
    forbid(
      'crypto-and-db-apart',
      'crypto, db and network do not lean on each other.',
      { path: '^src/(crypto|db|network)/' },
      { path: '^src/(crypto|db|network)/', pathNot: '^src/$1/' },
    ),
    forbid(
      'protocol-is-pure',
      'The protocol is pure functions: no I/O modules, no database, no HTTP.',
      { path: '^src/protocol/' },
      { dependencyTypes: ['npm', 'npm-dev', 'npm-optional'], pathNot: '^node_modules/protobufjs/' },
    ),
    forbid(
      'protocol-no-io',
      'The protocol is pure functions: no file, network or process access.',
      { path: '^src/protocol/' },
      { dependencyTypes: ['core'], path: '^(fs|net|http|https|child_process|dgram|dns|tls|worker_threads)' },
    ),
    forbid(
      'exports-know-no-sql-or-http',
      'Export files are built from keys handed in: no database, no HTTP.',
      { path: '^src/exports/' },
      { path: '^src/(db|http|events|telemetry)/|^node_modules/(pg|pg-copy-streams|fastify)/' },
    ),
    forbid(
      'telemetry-runs-no-sql',
      'Metrics are told what to report; the SQL behind a gauge lives in a store.',
      { path: '^src/telemetry/' },
      { path: '^node_modules/(pg|pg-copy-streams)/' },
    ),
    forbid(
      'sql-driver-in-stores',
      'Only db/ talks to the driver; stores get a pool or client from db/.',
      { path: '^src/', pathNot: '^src/db/|/store\\.ts$' },
      { path: '^node_modules/(pg|pg-copy-streams)/' },
    ),
    forbid('src-not-from-tests', 'The server never imports its tests or benchmarks.', { path: '^src/' }, { path: '^(test|bench)/' }),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|generated)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
