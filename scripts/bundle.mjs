// dist/bundle/: the entry points (cli, healthcheck) and what they import, bundled by
// esbuild into a few files. A process then reads and compiles a handful of modules instead
// of hundreds, which is most of its start-up (see BENCHMARKS.md, cold-start). Imports that
// a role makes only when it needs them stay separate chunks, loaded as before.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

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

// Chunk names carry a hash of their content: without a fresh folder, every build's chunks
// would pile up there (and in the package).
await rm('dist/bundle', { recursive: true, force: true });
await build({
  entryPoints: ['dist/cli.js', 'dist/healthcheck.js'],
  outdir: 'dist/bundle',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Packages that ship an ES module build are bundled from it: a module imported lazily
  // keeps its named exports (a CommonJS one would come as its default export alone).
  mainFields: ['module', 'main'],
  // pg's optional native driver is never installed. Fastify's schema compilers are never
  // called (http/server.ts gives it its own), so they stay out of what every start parses.
  external: ['pg-native', '@fastify/ajv-compiler', '@fastify/fast-json-stringify-compiler'],
  // CommonJS dependencies inside an ES module bundle still find require and their file.
  banner: {
    js: [
      "import { createRequire as __bundleRequire } from 'node:module';",
      "import { fileURLToPath as __bundlePath } from 'node:url';",
      'const require = __bundleRequire(import.meta.url);',
      'const __filename = __bundlePath(import.meta.url);',
      "const __dirname = __bundlePath(new URL('.', import.meta.url));",
    ].join(' '),
  },
  plugins: [englishOnlyZod, pgOffCloudflare],
  legalComments: 'none',
  logLevel: 'warning',
});
