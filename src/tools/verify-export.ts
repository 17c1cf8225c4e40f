// `diagnosis-server verify-export FILE.zip --public-key FILE.pem [--public-key FILE.pem …]`:
// a key file checked as the Exposure Notification framework would, with a summary for a
// person to read. With several public keys (a signing key being rotated), each must
// verify a signature: phones that trust either accept the file.
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { verifyExport } from '../exports/verify.js';

export const VERIFY_EXPORT_USAGE = 'usage: diagnosis-server verify-export FILE.zip --public-key FILE.pem [--public-key FILE.pem …]';

export async function verifyExportCommand(args: string[]): Promise<number> {
  const pemPaths: string[] = [];
  const files: string[] = [];
  let unknown = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--public-key' && args[i + 1] !== undefined) pemPaths.push(args[++i]!);
    else if (arg.startsWith('--')) unknown = true;
    else files.push(arg);
  }
  const file = files[0];
  if (unknown || files.length !== 1 || !file || pemPaths.length === 0) {
    console.error(VERIFY_EXPORT_USAGE);
    return 2;
  }
  const publicKeys = await Promise.all(pemPaths.map(async (p) => createPublicKey(await readFile(p, 'utf8'))));
  const report = await verifyExport(await readFile(file), publicKeys);
  console.log(`file:       ${file}`);
  console.log(`keys:       ${report.keys}`);
  console.log(`window:     ${report.start ?? '?'} → ${report.end ?? '?'}`);
  console.log(`region:     ${report.region ?? '?'}`);
  console.log(`batch:      ${report.batch ?? '?'}`);
  for (const info of report.signatureInfos) {
    console.log(`signature:  key id ${info.keyId}, version ${info.version}, algorithm ${info.algorithm}`);
  }
  for (const s of report.signatures) {
    const by = s.verifiedBy === undefined ? 'by none of the public keys' : `by ${pemPaths[s.verifiedBy]}`;
    console.log(`signed:     key id ${s.keyId}, version ${s.version}: ${s.verifiedBy === undefined ? 'does not verify' : 'verifies'} ${by}`);
  }
  console.log(`verified:   ${report.signatureValid ? 'yes' : 'NO'}`);
  for (const problem of report.problems) console.log(`problem:    ${problem}`);
  console.log(report.ok ? 'OK' : 'INVALID');
  return report.ok ? 0 : 1;
}
