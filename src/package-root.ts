// The package's own files (migrations, exposure configuration, the local data folder) are
// found from the package's root, the nearest folder above this module that holds a
// package.json: the same whether the code runs from dist/ as tsc writes it or from the
// bundle in dist/bundle/, which start-up loads faster.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(from: string): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = packageRoot(fileURLToPath(import.meta.url));

/** A path inside the package, e.g. packagePath('migrations'). */
export function packagePath(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}
