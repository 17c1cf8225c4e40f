// The build's training start (scripts/bundle.mjs drives it): the bundled CLI, run with this
// script's arguments as dist/bundle/cli.mjs would run it, writing V8's code cache of what
// it compiled when the process exits (src/code-cache.ts).
import path from 'node:path';
import { runBundleWritingCache } from '../dist/code-cache.js';

const script = path.resolve('dist/bundle/cli-script.js');
runBundleWritingCache(script);
