// The CLI's bundle is some 3 MB of JavaScript, and compiling it was most of a cold start
// (BENCHMARKS.md, cold-start). The build starts the CLI once and keeps the bytecode of what
// V8 compiled for it next to the bundle, a code cache; a start hands that to V8 instead of
// compiling again. V8 checks a cache against its own version, its flags and the source, and compiles
// as ever when one does not fit: a cache can make a start slower to miss, never wrong.
//
// The bundle is a script, not a module (V8 caches the one, not the other): one function
// expression, `(function (exports, require, module, __filename, __dirname) {…})`, the
// wrapper Node puts around a CommonJS module, written so by the build. The file is then
// compiled exactly as read, in one string, with its own line numbers in stack traces.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/** What happened to a bundle's cache at start-up. */
export type CodeCacheUse = 'used' | 'rejected' | 'missing';

/**
 * Where runBundle leaves what happened to the cache, for the bundle to read: the bundle has
 * its own copy of this module, so only a global reaches it.
 */
const CACHE_USE = Symbol.for('diagnosis-server.code-cache-use');

/** What happened to the cache of the bundle this process runs; undefined when it runs unbundled (dist/cli.js). */
export function codeCacheUse(): CodeCacheUse | undefined {
  return (globalThis as Record<symbol, CodeCacheUse | undefined>)[CACHE_USE];
}

/** The opening a bundle starts with (after a shebang line, if any). */
export const BUNDLE_HEAD = '(function (exports, require, module, __filename, __dirname) {';
/** And its end. */
export const BUNDLE_TAIL = '\n})';

/** Where the build keeps a bundle's cache: beside it. */
export function codeCacheOf(file: string): string {
  return `${file}.cache`;
}

function compile(file: string, cachedData?: Buffer): vm.Script {
  return new vm.Script(readFileSync(file, 'utf8'), { filename: file, cachedData });
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

function run(script: vm.Script, file: string): void {
  const module = { exports: {} };
  const body = script.runInThisContext() as (...args: unknown[]) => void;
  body.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
}

/**
 * Runs a bundle as `require` runs a module, compiled from its cache when it has one that
 * V8 takes. A script has no import() without an experimental loader: the bundle has none
 * (esbuild turns its own into require calls).
 */
export function runBundle(file: string, cacheFile = codeCacheOf(file)): CodeCacheUse {
  const cachedData = readIfPresent(cacheFile);
  const script = compile(file, cachedData);
  const use: CodeCacheUse = !cachedData ? 'missing' : script.cachedDataRejected ? 'rejected' : 'used';
  (globalThis as Record<symbol, CodeCacheUse>)[CACHE_USE] = use;
  run(script, file);
  return use;
}

/**
 * The build's part: runs a bundle without a cache, as a start would, and when the process
 * exits writes the cache of what V8 compiled by then: the top level and every function
 * that ran. Compiled whole up front instead, every function in the bundle would have cost
 * each process its memory (BENCHMARKS.md, cold-start).
 */
export function runBundleWritingCache(file: string, cacheFile = codeCacheOf(file)): void {
  const script = compile(file);
  process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
  run(script, file);
}

/** Whether V8, as this process runs it, takes the bundle's cache (the build checks this in a fresh process). */
export function codeCacheFits(file: string, cacheFile = codeCacheOf(file)): boolean {
  const cachedData = readIfPresent(cacheFile);
  return cachedData !== undefined && !compile(file, cachedData).cachedDataRejected;
}
