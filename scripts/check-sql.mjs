// Part of `npm run check`: SQL lives in the store of the concern that owns the table
// (`<concern>/store.ts`) or in db/, never in a route, a service or a tool. Imports cannot
// show this (a route holding a Pool type can still send it SQL), so the text is read.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const SQL = /\.query\s*[<(]|\b(SELECT\s[\s\S]{0,200}?\sFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET)\b/;
const allowed = (file) => file.startsWith('src/db/') || path.basename(file) === 'store.ts';

async function* sourceFiles(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(full);
    else if (entry.name.endsWith('.ts')) yield full;
  }
}

const offenders = [];
for await (const file of sourceFiles('src')) {
  if (allowed(file)) continue;
  const lines = (await readFile(file, 'utf8')).split('\n');
  lines.forEach((line, i) => {
    if (!line.trim().startsWith('//') && SQL.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
  });
}
if (offenders.length > 0) {
  console.error(`SQL outside a store or db/ (move it into the owning concern's store.ts):\n  ${offenders.join('\n  ')}`);
  process.exit(1);
}
console.log('sql: only in stores and db/');
