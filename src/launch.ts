#!/usr/bin/env node
// The entry point that runs (dist/bundle/cli.mjs, the package's bin and the image's
// entrypoint): the CLI of cli.ts, bundled into one script beside it, started from the
// code cache the build made for it (code-cache.ts). Only meaningful inside dist/bundle/.
import { fileURLToPath } from 'node:url';
import { runBundle } from './code-cache.js';

const script = fileURLToPath(new URL('cli-script.js', import.meta.url));
runBundle(script);
