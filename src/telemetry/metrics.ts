// Every metric this server exports, named in Prometheus style (units in the name, _total on
// counters), and the domain events that move them. With metrics off, the meter is a no-op
// and so is every call here.
import type { Attributes, Meter } from '@opentelemetry/api';

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const KEY_BUCKETS = [0, 10, 100, 1_000, 10_000, 50_000, 100_000, 250_000, 500_000, 750_000];
const GROUP_BUCKETS = [1, 2, 4, 8, 16, 32, 64];
const BYTE_BUCKETS = [1_000, 10_000, 100_000, 1_000_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000];
/** Database gauges are read at most this often, however often Prometheus scrapes. */
const GAUGE_CACHE_MS = 5_000;

/** What the stored-count gauges show. */
export interface StoredCounts {
  unclaimed: number;
  claimed: number;
  keys: number;
  /** The newest sealed batch's hour number; null before any (and always with KEY_RELEASE=immediate). */
  newestBatchHour: number | null;
  /** Statistics rows requests logged that no writer has folded into their tables yet. */
  unfoldedStatistics: number;
}

export type PurgeKind =
  | 'diagnosis_keys'
  | 'padding_keys'
  | 'key_batches'
  | 'unclaimed_codes'
  | 'expired_keypairs'
  | 'exhausted_keypairs'
  | 'claim_failure_counters'
  | 'statistics'
  | 'claim_replays';

export class Metrics {
  /** Every metric name registered, as Prometheus shows it (dashboards are checked against it). */
  readonly names: string[] = [];
  private readonly requests;
  private readonly requestDuration;
  private readonly requestsAborted;
  private readonly codesGenerated;
  private readonly codesRegenerated;
  private readonly codesClaimed;
  private readonly claimsReplayed;
  private readonly chaff;
  private readonly claimFailures;
  private readonly claimBans;
  private readonly claimsRefusedBanned;
  private readonly uploads;
  private readonly keysAccepted;
  private readonly keysDuplicate;
  private readonly uploadRejections;
  private readonly keysDroppedCounter;
  private readonly commitGroupSize;
  private readonly exportBuilds;
  private readonly exportBuildDuration;
  private readonly exportKeys;
  private readonly exportBytes;
  private readonly purgeDeleted;
  private readonly batchesSealed;
  private readonly keysReleased;
  private readonly paddingKeys;
  private readonly sealDuration;

  constructor(private readonly meter: Meter) {
    const counter = (name: string, description: string) => {
      this.names.push(name);
      return meter.createCounter(name, { description });
    };
    const histogram = (name: string, description: string, buckets: number[]) => {
      this.names.push(name);
      return meter.createHistogram(name, { description, advice: { explicitBucketBoundaries: buckets } });
    };

    this.requests = counter('http_server_requests_total', 'HTTP requests answered, by route, method and status');
    this.requestDuration = histogram('http_server_request_duration_seconds', 'Time to answer an HTTP request', SECONDS_BUCKETS);
    this.requestsAborted = counter('http_server_requests_aborted_total', 'Requests the client abandoned before they were answered, by route');
    this.codesGenerated = counter('diagnosis_one_time_codes_generated_total', 'One-time codes issued to health portals');
    this.codesRegenerated = counter('diagnosis_one_time_codes_regenerated_total', 'Unclaimed codes replaced through their hash id');
    this.codesClaimed = counter('diagnosis_one_time_codes_claimed_total', 'One-time codes redeemed by the app');
    this.chaff = counter('diagnosis_chaff_requests_total', 'Chaff requests (X-Chaff) answered without database work, by route');
    this.claimsReplayed = counter('diagnosis_claims_replayed_total', 'Claims repeated by the app whose answer was lost, answered again');
    this.claimFailures = counter('diagnosis_claim_failures_total', 'Claims with no live code, counted against the client');
    this.claimBans = counter('diagnosis_claim_bans_total', 'Clients banned for too many failed claims');
    this.claimsRefusedBanned = counter('diagnosis_claim_banned_requests_total', 'Claims refused because the client is banned');
    this.uploads = counter('diagnosis_uploads_total', 'Uploads accepted');
    this.keysAccepted = counter('diagnosis_upload_keys_accepted_total', 'Temporary Exposure Keys stored');
    this.keysDuplicate = counter('diagnosis_upload_keys_duplicate_total', 'Uploaded keys ignored because they were already stored');
    this.uploadRejections = counter('diagnosis_upload_rejections_total', 'Uploads refused, by error code and the rule that refused them');
    this.keysDroppedCounter = counter(
      'diagnosis_upload_keys_dropped_total',
      'Uploaded keys not stored while the rest of their upload was, by reason',
    );
    this.commitGroupSize = histogram(
      'diagnosis_commit_group_size',
      'Requests sharing one database call, by call (keypair_read, upload_store and claim are one commit each; claim_ban_read)',
      GROUP_BUCKETS,
    );
    this.exportBuilds = counter('diagnosis_export_builds_total', 'Key files built (cache misses)');
    this.exportBuildDuration = histogram('diagnosis_export_build_duration_seconds', 'Time to build and sign a key file', SECONDS_BUCKETS);
    this.exportKeys = histogram('diagnosis_export_keys', 'Keys per built key file', KEY_BUCKETS);
    this.exportBytes = histogram('diagnosis_export_size_bytes', 'Size of built key files', BYTE_BUCKETS);
    this.purgeDeleted = counter('diagnosis_purge_deleted_total', 'Rows deleted by the retention purge, by kind');
    this.batchesSealed = counter('diagnosis_batches_sealed_total', 'Hourly batches sealed for release (KEY_RELEASE=batched), empty ones included');
    this.keysReleased = counter('diagnosis_keys_released_total', 'Real keys published in sealed batches');
    this.paddingKeys = counter('diagnosis_padding_keys_total', 'Generated keys added to sealed batches (never counted as real keys anywhere)');
    this.sealDuration = histogram('diagnosis_batch_seal_duration_seconds', 'Time to seal and pad an hourly batch', SECONDS_BUCKETS);

    this.names.push('process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_used_bytes');
    meter.createObservableCounter('process_cpu_seconds_total', { description: 'CPU time used by this process' }).addCallback((result) => {
      const { user, system } = process.cpuUsage();
      result.observe((user + system) / 1e6);
    });
    meter.createObservableGauge('process_resident_memory_bytes', { description: 'Resident memory of this process' }).addCallback((result) => {
      result.observe(process.memoryUsage().rss);
    });
    meter.createObservableGauge('nodejs_heap_used_bytes', { description: 'V8 heap in use' }).addCallback((result) => {
      result.observe(process.memoryUsage().heapUsed);
    });
  }

  /** Gauges of what the database holds, read at collection and cached so a scrape never floods it. */
  observeStoredCounts(readCounts: () => Promise<StoredCounts>): void {
    let cached: (StoredCounts & { at: number }) | undefined;
    let pending: Promise<typeof cached> | undefined;
    const read = async () => {
      if (cached && Date.now() - cached.at < GAUGE_CACHE_MS) return cached;
      pending ??= readCounts()
        .then((counts) => (cached = { at: Date.now(), ...counts }))
        .catch(() => cached)
        .finally(() => (pending = undefined));
      return pending;
    };
    this.names.push('diagnosis_one_time_codes', 'diagnosis_keys_stored', 'diagnosis_newest_batch_age_seconds', 'diagnosis_statistics_unfolded_rows');
    const codes = this.meter.createObservableGauge('diagnosis_one_time_codes', {
      description: 'Codes and keypairs stored, by state (unclaimed, claimed)',
    });
    const keys = this.meter.createObservableGauge('diagnosis_keys_stored', { description: 'Temporary Exposure Keys stored' });
    // Normally under an hour and a purge interval; growing means no sealer runs and nothing new is published.
    const batchAge = this.meter.createObservableGauge('diagnosis_newest_batch_age_seconds', {
      description: 'Time since the end of the newest sealed batch hour (KEY_RELEASE=batched)',
    });
    // Normally a few purge intervals' worth of requests; growing means no writer folds them.
    const unfolded = this.meter.createObservableGauge('diagnosis_statistics_unfolded_rows', {
      description: 'Statistics rows logged by requests and not yet folded into their tables by a writer',
    });
    this.meter.addBatchObservableCallback(
      async (result) => {
        const counts = await read();
        if (!counts) return;
        result.observe(codes, counts.unclaimed, { state: 'unclaimed' });
        result.observe(codes, counts.claimed, { state: 'claimed' });
        result.observe(keys, counts.keys);
        if (counts.newestBatchHour !== null) result.observe(batchAge, Date.now() / 1000 - (counts.newestBatchHour + 1) * 3600);
        result.observe(unfolded, counts.unfoldedStatistics);
      },
      [codes, keys, batchAge, unfolded],
    );
  }

  httpRequest(route: string, method: string, status: number, seconds: number): void {
    const attributes: Attributes = { route, method, status: String(status) };
    this.requests.add(1, attributes);
    this.requestDuration.record(seconds, attributes);
  }

  /** A client gone before its answer: counted apart, never as an error. */
  httpRequestAborted(route: string, method: string): void {
    this.requestsAborted.add(1, { route, method });
  }

  codeIssued(originator: string, region: string, regenerated: boolean): void {
    this.codesGenerated.add(1, { originator, region });
    if (regenerated) this.codesRegenerated.add(1, { originator, region });
  }

  codeClaimed(originator: string, region: string): void {
    this.codesClaimed.add(1, { originator, region });
  }

  claimFailed(banStarted: boolean): void {
    this.claimFailures.add(1);
    if (banStarted) this.claimBans.add(1);
  }

  chaffAnswered(route: string): void {
    this.chaff.add(1, { route });
  }

  claimReplayed(): void {
    this.claimsReplayed.add(1);
  }

  claimRefusedBanned(): void {
    this.claimsRefusedBanned.add(1);
  }

  uploadAccepted(region: string, newKeys: number, duplicates: number): void {
    this.uploads.add(1, { region });
    this.keysAccepted.add(newKeys, { region });
    this.keysDuplicate.add(duplicates, { region });
  }

  /** unservable: too old for any phone to match (DROP_UNSERVABLE_KEYS). */
  keysDropped(reason: 'unservable', keys: number): void {
    if (keys > 0) this.keysDroppedCounter.add(keys, { reason });
  }

  /** `rule`: protocol, or the server's own rule that refused it (future_key, start_interval_limit). */
  uploadRejected(error: string, rule: string): void {
    this.uploadRejections.add(1, { error, rule });
  }

  commitGroup(call: 'keypair_read' | 'upload_store' | 'claim_ban_read' | 'claim', size: number): void {
    this.commitGroupSize.record(size, { call });
  }

  exportBuilt(seconds: number, keys: number, bytes: number): void {
    this.exportBuilds.add(1);
    this.exportBuildDuration.record(seconds);
    this.exportKeys.record(keys);
    this.exportBytes.record(bytes);
  }

  batchSealed(realKeys: number, paddingKeys: number, seconds: number): void {
    this.batchesSealed.add(1);
    if (realKeys > 0) this.keysReleased.add(realKeys);
    if (paddingKeys > 0) this.paddingKeys.add(paddingKeys);
    this.sealDuration.record(seconds);
  }

  purged(kind: PurgeKind, rows: number): void {
    if (rows > 0) this.purgeDeleted.add(rows, { kind });
  }
}
