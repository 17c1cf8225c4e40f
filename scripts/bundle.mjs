// dist/bundle/: the entry points (cli, healthcheck) and what they import, bundled by
// esbuild. A process then reads one file instead of hundreds of modules, and compiles
// next to nothing: the CLI's bundle comes with a V8 code cache made here (see
// BENCHMARKS.md, cold-start).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_HEAD, BUNDLE_TAIL, codeCacheOf } from '../dist/code-cache.js';

const SCRIPT = 'dist/bundle/cli-script.js';

/**
 * zod's namespace carries every locale it has (z.locales, some 50 of them) and nothing
 * here uses one but English, its default: the rest would be half of what every start
 * parses for configuration.
 */
const englishOnlyZod = {
  name: 'english-only-zod',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: 'zod-locales', namespace: 'english-only-zod' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'english-only-zod' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(path.resolve('node_modules/zod/v4/locales/en.js'))};`,
      resolveDir: path.resolve('node_modules/zod/v4/locales'),
    }));
  },
};

/**
 * pg asks whether it runs on Cloudflare Workers as it loads; on Node 20, which has no
 * `navigator`, by constructing a fetch Response, which loads Node's whole fetch
 * implementation (undici) on every start for nothing. This bundle is for Node alone.
 */
const pgOffCloudflare = {
  name: 'pg-off-cloudflare',
  setup(b) {
    b.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const probe = 'function isCloudflareRuntime() {';
      if (!source.includes(probe)) throw new Error(`${args.path}: no ${probe} any more; drop the pg-off-cloudflare plugin or update it`);
      return { contents: source.replace(probe, `${probe}\n  return false;`), loader: 'js' };
    });
  },
};

/** How long the training start may take before the build gives up on a cache. */
const TRAINING_DEADLINE_MS = 30_000;

/**
 * The code cache comes from one start of the CLI: `all`, so that both servers are in it,
 * with metrics on, and with no database to reach (a server starts without one, and the
 * start is what the cache is for). Once both answer /services/ping it is stopped as by
 * SIGTERM, and writes the cache as it exits. A start that fails leaves the bundle without
 * a cache, and says so: starts then compile as they did before there was one.
 */
async function trainCodeCache() {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'diagnosis-code-cache-'));
  const cache = codeCacheOf(SCRIPT);
  let output = '';
  try {
    const child = spawn(process.execPath, ['scripts/code-cache-training.mjs', 'all'], {
      env: {
        PATH: process.env.PATH,
        DATA_DIR: dataDir,
        // Port 1 refuses: the start goes on without Postgres, trying again in the background.
        DATABASE_URL: 'postgres://training:training@127.0.0.1:1/training',
        BIND_ADDR: '127.0.0.1:0',
        METRIC_PROVIDER: 'prometheus',
        PROMETHEUS_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
    child.stderr.on('data', (d) => (output += d));
    const deadline = setTimeout(() => child.kill('SIGKILL'), TRAINING_DEADLINE_MS);
    let stdout = '';
    let pinged = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      const urls = [...stdout.matchAll(/^ {2}key-(?:submission|retrieval)\s+(http:\/\/\S+)$/gm)].map((m) => m[1]);
      if (urls.length < 2 || pinged) return;
      pinged = true;
      Promise.all(urls.map((url) => fetch(`${url}/services/ping`)))
        .catch((err) => (output += `\nping: ${err}`))
        .finally(() => child.kill('SIGTERM'));
    });
    const code = await exited;
    clearTimeout(deadline);
    output += stdout;
    if (code !== 0 || !pinged) throw new Error(`the training start ended with ${code}`);
    await stat(cache);
  } catch (err) {
    await rm(cache, { force: true });
    console.warn(`bundle: no code cache for ${SCRIPT} (${err.message}); starts will compile it\n${output}`);
    return;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  // A cache V8 refuses costs every start its compile again, silently: say so here.
  const check = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import { codeCacheFits } from './dist/code-cache.js'; process.exit(codeCacheFits('${SCRIPT}') ? 0 : 1);`],
    { stdio: 'inherit' },
  );
  if (check.status !== 0) console.warn(`bundle: V8 refuses the code cache written for ${SCRIPT}; starts will compile it`);
}

await rm('dist/bundle', { recursive: true, force: true });
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Packages that ship an ES module build are bundled from it, as tsc's output imports them.
  mainFields: ['module', 'main'],
  plugins: [englishOnlyZod, pgOffCloudflare],
  legalComments: 'none',
  logLevel: 'warning',
};

// The CLI, every role and tool in one script, written as the function Node wraps a
// CommonJS module in: V8 caches the compiled code of a script, not of an ES module
// (code-cache.ts). What a role imports only when it needs it is still evaluated only then;
// the cache makes the rest cheap to carry.
await build({
  ...common,
  entryPoints: ['dist/cli.js'],
  outfile: SCRIPT,
  format: 'cjs',
  // pg's optional native driver is never installed. Fastify's schema compilers are never
  // called (http/server.ts gives it its own), so they stay out of what every start parses.
  external: ['pg-native', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler'],
  // package-root.ts finds the package from its own file's URL. Strict as the ES modules
  // it is made of: esbuild's own "use strict" would come after this line, too late to count.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: `${BUNDLE_HEAD} 'use strict'; const __bundleUrl = require('node:url').pathToFileURL(__filename).href;` },
  footer: { js: BUNDLE_TAIL },
});
// esbuild escapes every character past ASCII in code (its default charset); comments keep
// theirs. Without them the file is ASCII, which V8 holds in one byte a character instead
// of two: 3 MB less for as long as the process runs.
const script = await readFile(SCRIPT, 'utf8');
await writeFile(SCRIPT, script.replace(/[^\0-\x7f]/g, '?'));

// The entry point that starts it (launch.ts, as cli.mjs: the package's bin and the image's
// entrypoint), and the container's health check, which needs a few modules only.
await build({
  ...common,
  entryPoints: [
    { in: 'dist/launch.js', out: 'cli' },
    { in: 'dist/healthcheck.js', out: 'healthcheck' },
  ],
  outdir: 'dist/bundle',
  outExtension: { '.js': '.mjs' },
  format: 'esm',
});

await trainCodeCache();
