// The bundled CLI started as dist/bundle/cli.mjs starts it, but without the build's code
// cache: V8 compiles the script at start. The cold-start bench's measure of the cache.
import path from 'node:path';
import { runBundle } from '../dist/code-cache.js';

const script = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../dist/bundle/cli-script.js');
// A cache file that is never there.
runBundle(script, `${script}.no-cache`);
