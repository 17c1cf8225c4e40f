// Generating server keypairs must never hang the process. Exporting a freshly generated
// X25519 KeyObject as a JWK deadlocks Node 20 now and then (a garbage collection during the
// export destroys the generator job, which takes the lock the export holds); a loop of
// 30,000 hung every time here, within seconds. The loop runs in a child process of its own,
// since a deadlocked thread answers no timeout.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { tempFolder } from '../helpers/temp-folder.js';

const KEYPAIRS = 30_000;

describe('server keypair generation', () => {
  it(`makes ${KEYPAIRS} keypairs in a row without hanging`, async () => {
    const loop = path.join(await tempFolder('keypairs-'), 'loop.cjs');
    await build({
      stdin: {
        contents: `import { generateBoxKeypair } from ${JSON.stringify(path.resolve('src/crypto/box.ts'))};
          for (let i = 0; i < ${KEYPAIRS}; i++) generateBoxKeypair();
          console.log('done');`,
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile: loop,
      logLevel: 'silent',
    });
    const child = spawn(process.execPath, [loop], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const deadline = setTimeout(() => child.kill('SIGKILL'), 25_000);
    const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(signal ?? c)));
    clearTimeout(deadline);
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: 'done' });
  });
});
