// Chaff (the X-Chaff header, Google's convention): an app may send fake claims and uploads
// so that watching its traffic does not tell who tested positive. A chaff request does no
// database work and stores nothing, and its answer looks like a real one of its kind: the
// same status, size and content type, after a delay drawn from recent real requests.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { readBody } from '../http/body.js';
import { leaveUnmeasured, sendProtobuf } from '../http/responses.js';
import type { Metrics } from '../telemetry/metrics.js';

/** How many recent real durations each route remembers to draw chaff delays from. */
const SAMPLES = 200;

export function isChaff(request: FastifyRequest): boolean {
  return request.headers['x-chaff'] !== undefined;
}

/** Recent real request durations per route, and answers to chaff timed like them. */
export class Chaff {
  private readonly durations = new Map<string, number[]>();

  constructor(private readonly metrics: Metrics) {}

  /** A real request of `route` took `ms`. */
  record(route: string, ms: number): void {
    let samples = this.durations.get(route);
    if (!samples) this.durations.set(route, (samples = []));
    samples.push(ms);
    if (samples.length > SAMPLES) samples.shift();
  }

  /** A duration drawn from the recent real ones of `route`; none yet, no delay. */
  delayMs(route: string): number {
    const samples = this.durations.get(route) ?? [];
    return samples.length === 0 ? 0 : samples[Math.floor(Math.random() * samples.length)]!;
  }

  /**
   * Answers a chaff request: its body is read (and dropped) as a real one's would be, then,
   * after about as long as a real one takes, `answer` goes back with a 200. The request is
   * left out of request metrics and logs; only the chaff counter knows it.
   */
  async answer(request: FastifyRequest, reply: FastifyReply, route: string, bodyLimit: number, answer: Buffer): Promise<FastifyReply> {
    const started = performance.now();
    leaveUnmeasured(request);
    this.metrics.chaffAnswered(route);
    await readBody(request, reply, bodyLimit);
    const wait = this.delayMs(route) - (performance.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return sendProtobuf(reply, 200, answer);
  }
}
