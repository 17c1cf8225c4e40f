// The database calls of /upload, shared by concurrent uploads (db/commit-groups.ts): one
// query reads the keypairs of a group, one call stores a group's keys and commits them
// together. An upload is answered only after the commit that holds it.
import { callSettled, CommitGroups } from '../db/commit-groups.js';
import { inCommitGroupSpan } from '../telemetry/tracing.js';
import type { SubmissionContext } from './context.js';
import { findValidKeypairs, storeUploads, type Keypair, type StoreKeysResult, type UploadToStore } from './store.js';

type Conflict = Extract<StoreKeysResult, { reason: 'conflict' }>;
export type StoredOrRefused = Exclude<StoreKeysResult, Conflict>;

export interface UploadGroups {
  findKeypair(serverPublicKey: Uint8Array): Promise<Keypair | undefined>;
  store(upload: UploadToStore): Promise<StoredOrRefused>;
}

export function uploadGroups(ctx: Pick<SubmissionContext, 'pool' | 'settings' | 'clock' | 'telemetry'>): UploadGroups {
  const { pool, settings, clock } = ctx;
  const { metrics, tracer } = ctx.telemetry;
  const keypairs = new CommitGroups(
    (keys: Uint8Array[]) => findValidKeypairs(pool, settings, keys, clock.now()),
    settings.commitGroups,
    (size) => metrics.commitGroup('keypair_read', size),
  );
  const stores = new CommitGroups(
    (uploads: UploadToStore[]) => storeUploads(pool, settings, uploads),
    settings.commitGroups,
    (size) => metrics.commitGroup('upload_store', size),
  );
  return {
    findKeypair: (serverPublicKey) => inCommitGroupSpan(tracer, 'keypair_read', (joined) => keypairs.call(serverPublicKey, joined)),
    store: (upload) =>
      inCommitGroupSpan(tracer, 'upload_store', (joined) =>
        callSettled(stores, upload, (r): r is Conflict => !r.stored && r.reason === 'conflict', joined),
      ),
  };
}
