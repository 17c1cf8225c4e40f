import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Each step runs in a process of its own, as the build and a start do: the cache is made
// under changed V8 flags, and only a fresh process shows whether a start would take it.
const CODE_CACHE = path.resolve('dist/code-cache.js');

function inFreshNode(code: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', `import * as cc from ${JSON.stringify(CODE_CACHE)};\n${code}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
}

// A bundle as the build writes it: Node's CommonJS wrapper around the code. Inside, what a
// required module sees: require, its own file and folder, exports as \`this\`.
const BUNDLE = `#!/usr/bin/env node
(function (exports, require, module, __filename, __dirname) { 'use strict';
const path = require('node:path');
module.exports.answer = 42;
const seen = [typeof require('node:os').cpus, path.basename(__filename), __dirname === path.dirname(__filename), this === module.exports];
console.log(seen.join(' '), module.exports === exports);
if (process.env.THROW) throw new Error('from line 7');
console.log('inside:', String(globalThis[Symbol.for('diagnosis-server.code-cache-use')]));
})`;
const RAN = 'function bundle.cjs true true true';
// What the bundle itself is told of its cache (codeCacheUse), the CLI's listening line says.
const told = (use: string) => `inside: ${use}`;

describe('code cache', () => {
  let dir: string;
  let bundle: string;
  let cache: string;
  const run = (env: Record<string, string> = {}) =>
    execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { runBundle } from ${JSON.stringify(CODE_CACHE)}; console.log(runBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cache)}));`,
      ],
      { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    ).trim();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'code-cache-'));
    bundle = path.join(dir, 'bundle.cjs');
    cache = `${bundle}.cache`;
    await writeFile(bundle, BUNDLE);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('runs a bundle as require runs a module, shebang and all, with no cache yet', async () => {
    await rm(cache, { force: true });
    expect(run().split('\n')).toEqual([RAN, told('missing'), 'missing']);
  });

  it('writes the cache of a run as that process exits, which a fresh process takes, and the bundle runs the same from it', () => {
    expect(inFreshNode(`cc.runBundleWritingCache(${JSON.stringify(bundle)}, ${JSON.stringify(cache)});`).trim()).toBe(`${RAN}\n${told('undefined')}`);
    expect(inFreshNode(`console.log(cc.codeCacheFits(${JSON.stringify(bundle)}, ${JSON.stringify(cache)}));`).trim()).toBe('true');
    expect(run().split('\n')).toEqual([RAN, told('used'), 'used']);
  });

  it('keeps the bundle’s own line numbers in stack traces', () => {
    let stderr = '';
    try {
      run({ THROW: '1' });
    } catch (err) {
      stderr = String((err as { stderr: unknown }).stderr);
    }
    expect(stderr).toContain(`${bundle}:7`);
  });

  it('compiles as ever when V8 refuses the cache (another Node, a damaged file)', async () => {
    const good = await readFile(cache);
    const damaged = Buffer.from(good);
    for (let i = 0; i < damaged.length; i += 7) damaged.writeUInt8(damaged.readUInt8(i) ^ 0xff, i);
    await writeFile(cache, damaged);
    expect(run().split('\n')).toEqual([RAN, told('rejected'), 'rejected']);
    await writeFile(cache, good.subarray(0, 16));
    expect(run().split('\n')).toEqual([RAN, told('rejected'), 'rejected']);
    await writeFile(cache, good);
  });

  it('fits the CLI script the build wrote, for the Node that runs the tests', () => {
    expect(inFreshNode(`console.log(cc.codeCacheFits('dist/bundle/cli-script.js', 'dist/bundle/cli-script.js.cache'));`).trim()).toBe('true');
  });

  it('has the build write the CLI script strict, and in ASCII (one byte a character in V8)', async () => {
    const script = await readFile('dist/bundle/cli-script.js', 'latin1');
    expect(script.split('\n')[1]).toMatch(/^\(function \(exports, require, module, __filename, __dirname\) \{ 'use strict';/);
    expect(script.trimEnd().endsWith('\n})')).toBe(true);
    expect(/[^\0-\x7f]/.test(script)).toBe(false);
  });
});
