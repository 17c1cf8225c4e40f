// dist/bundle/: the entry points (cli, healthcheck) and what they import, bundled by
// esbuild into a few files. A process then reads and compiles a handful of modules instead
// of hundreds, which is most of its start-up (see BENCHMARKS.md, cold-start). Imports that
// a role makes only when it needs them stay separate chunks, loaded as before.
import { build } from 'esbuild';

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
  // pg's optional native driver is never installed.
  external: ['pg-native'],
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
  legalComments: 'none',
  logLevel: 'warning',
});
