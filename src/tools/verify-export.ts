// `diagnosis-server verify-export FILE.zip --public-key FILE.pem`: a key file checked as
// the Exposure Notification framework would, with a summary for a person to read.
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { verifyExport } from '../exports/verify.js';

export const VERIFY_EXPORT_USAGE = 'usage: diagnosis-server verify-export FILE.zip --public-key FILE.pem';

export async function verifyExportCommand(args: string[]): Promise<number> {
  const keyFlag = args.indexOf('--public-key');
  const pemPath = keyFlag >= 0 ? args[keyFlag + 1] : undefined;
  const file = args.find((a, i) => !a.startsWith('--') && i !== keyFlag + 1);
  if (!file || !pemPath) {
    console.error(VERIFY_EXPORT_USAGE);
    return 2;
  }
  const report = await verifyExport(await readFile(file), createPublicKey(await readFile(pemPath, 'utf8')));
  console.log(`file:       ${file}`);
  console.log(`keys:       ${report.keys}`);
  console.log(`window:     ${report.start ?? '?'} → ${report.end ?? '?'}`);
  console.log(`region:     ${report.region ?? '?'}`);
  console.log(`batch:      ${report.batch ?? '?'}`);
  for (const info of report.signatureInfos) {
    console.log(`signature:  key id ${info.keyId}, version ${info.version}, algorithm ${info.algorithm}`);
  }
  console.log(`verified:   ${report.signatureValid ? 'yes' : 'NO'}`);
  for (const problem of report.problems) console.log(`problem:    ${problem}`);
  console.log(report.ok ? 'OK' : 'INVALID');
  return report.ok ? 0 : 1;
}
