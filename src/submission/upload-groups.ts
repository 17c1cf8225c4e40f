// The database calls of /upload, shared by concurrent uploads (db/commit-groups.ts): one
// query reads the keypairs of a group, one call stores a group's keys and commits them
// together. An upload is answered only after the commit that holds it.
import type { SubmissionContext } from './context.js';
import { sharedCall } from './shared-calls.js';
import { findValidKeypairs, storeUploads, type Keypair, type StoreKeysResult, type UploadToStore } from './store.js';

type Conflict = Extract<StoreKeysResult, { reason: 'conflict' }>;
export type StoredOrRefused = Exclude<StoreKeysResult, Conflict>;

export interface UploadGroups {
  findKeypair(serverPublicKey: Uint8Array): Promise<Keypair | undefined>;
  store(upload: UploadToStore): Promise<StoredOrRefused>;
}

export function uploadGroups(ctx: Pick<SubmissionContext, 'pool' | 'settings' | 'clock' | 'telemetry'>): UploadGroups {
  const { pool, settings, clock } = ctx;
  const keypairs = sharedCall(ctx, 'keypair_read', (keys: Uint8Array[]) => findValidKeypairs(pool, settings, keys, clock.now()));
  const stores = sharedCall(ctx, 'upload_store', (uploads: UploadToStore[]) => storeUploads(pool, settings, uploads));
  return {
    findKeypair: (serverPublicKey) => keypairs.call(serverPublicKey),
    store: (upload) => stores.settled(upload, (r): r is Conflict => !r.stored && r.reason === 'conflict'),
  };
}
