// A database call shared by concurrent requests (db/commit-groups.ts), named once: the name
// is its label in diagnosis_commit_group_size and its trace span (telemetry/tracing.ts).
import { callSettled, CommitGroups } from '../db/commit-groups.js';
import type { Metrics } from '../telemetry/metrics.js';
import { inCommitGroupSpan } from '../telemetry/tracing.js';
import type { SubmissionContext } from './context.js';

export type SharedCallName = Parameters<Metrics['commitGroup']>[0];

export interface SharedCall<In, Out> {
  call(input: In): Promise<Out>;
  /** The call, tried again while its answer says it lost a deadlock (db/commit-groups.ts callSettled). */
  settled<Lost extends Out>(input: In, lost: (output: Out) => output is Lost): Promise<Exclude<Out, Lost>>;
}

export function sharedCall<In, Out>(
  ctx: Pick<SubmissionContext, 'settings' | 'telemetry'>,
  name: SharedCallName,
  run: (inputs: In[]) => Promise<Out[]>,
): SharedCall<In, Out> {
  const { metrics, tracer } = ctx.telemetry;
  const groups = new CommitGroups(run, ctx.settings.commitGroups, (size) => metrics.commitGroup(name, size));
  return {
    call: (input) => inCommitGroupSpan(tracer, name, (joined) => groups.call(input, joined)),
    settled: (input, lost) => inCommitGroupSpan(tracer, name, (joined) => callSettled(groups, input, lost, joined)),
  };
}
