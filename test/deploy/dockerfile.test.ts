// The image's build stage runs `npm run build` on what it copied in: every file or folder
// that the build reads must be among them (scripts/ was not, once, and the build stopped).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const buildStage = dockerfile.slice(0, dockerfile.indexOf('FROM', dockerfile.indexOf('FROM') + 1));
const copied = new Set([...buildStage.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1)));

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
const tsconfig = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[] };

/** The top-level names that a script's command line reads: `scripts/bundle.mjs` → scripts. */
function readBy(command: string): string[] {
  return command
    .split(/\s+/)
    .filter((word) => /^[\w.-]+\/|^[\w.-]+\.json$/.test(word) && !word.startsWith('dist/') && !word.startsWith('generated/'))
    .map((word) => word.split('/')[0]!);
}

describe('Dockerfile', () => {
  it('copies into its build stage everything that npm run build reads', () => {
    expect(buildStage).toContain('RUN npm run build');
    const needed = new Set([...readBy(pkg.scripts.build!), ...readBy(pkg.scripts.proto!), ...tsconfig.include, 'tsconfig.json']);
    expect([...needed].sort()).toEqual(expect.arrayContaining(['proto', 'scripts', 'src', 'tsconfig.build.json']));
    for (const name of needed) expect(copied, name).toContain(name);
  });
});
