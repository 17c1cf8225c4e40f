// The database calls of /upload, shared by concurrent uploads (db/commit-groups.ts): one
// query reads the keypairs of a group, one call stores a group's keys and commits them
// together. An upload is answered only after the commit that holds it.
import { CommitGroups } from '../db/commit-groups.js';
import { isRetryableConflict } from '../db/pool.js';
import type { SubmissionContext } from './context.js';
import { findValidKeypairs, storeUploads, type Keypair, type StoreKeysResult, type UploadToStore } from './store.js';

/** A deadlock lost costs the upload nothing but a try; this many, and it is a fault. */
const MAX_ATTEMPTS = 3;

export type StoredOrRefused = Exclude<StoreKeysResult, { reason: 'conflict' }>;

export interface UploadGroups {
  findKeypair(serverPublicKey: Uint8Array): Promise<Keypair | undefined>;
  store(upload: UploadToStore): Promise<StoredOrRefused>;
}

export function uploadGroups(ctx: Pick<SubmissionContext, 'pool' | 'settings' | 'clock' | 'telemetry'>): UploadGroups {
  const { pool, settings, clock } = ctx;
  const metrics = ctx.telemetry.metrics;
  const limits = settings.uploadGroups;
  const keypairs = new CommitGroups(
    (keys: Uint8Array[]) => findValidKeypairs(pool, settings, keys, clock.now()),
    limits,
    (size) => metrics.uploadGroup('keypair_read', size),
  );
  const stores = new CommitGroups(
    (uploads: UploadToStore[]) => storeUploads(pool, settings, uploads),
    limits,
    (size) => metrics.uploadGroup('store', size),
  );
  return {
    findKeypair: (serverPublicKey) => keypairs.call(serverPublicKey),
    async store(upload) {
      for (let attempt = 1; ; attempt++) {
        let result: StoreKeysResult;
        try {
          result = await stores.call(upload);
        } catch (err) {
          // The whole group lost a race at commit (the version bump, say): nothing of it is stored.
          if (attempt < MAX_ATTEMPTS && isRetryableConflict(err)) continue;
          throw err;
        }
        if (result.stored || result.reason !== 'conflict') return result;
        if (attempt === MAX_ATTEMPTS) throw new Error(`an upload lost a deadlock ${MAX_ATTEMPTS} times`);
      }
    },
  };
}
