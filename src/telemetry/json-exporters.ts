// METRIC_PROVIDER / TRACER_PROVIDER = stdout | pretty: metrics and spans as JSON on
// stdout, one line per export (stdout) or indented (pretty), for local use and for log
// pipelines that parse JSON.
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** ExportResult of @opentelemetry/core: code 0 is success. */
type ExportResult = { code: number; error?: Error };
const SUCCESS: ExportResult = { code: 0 };
const hrToMs = ([seconds, nanos]: [number, number]) => seconds * 1000 + nanos / 1e6;

function write(value: unknown, pretty: boolean): void {
  process.stdout.write(JSON.stringify(value, null, pretty ? 2 : undefined) + '\n');
}

export class JsonMetricExporter implements PushMetricExporter {
  constructor(private readonly pretty: boolean) {}

  export(resourceMetrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    const metrics = resourceMetrics.scopeMetrics.flatMap((scope) =>
      scope.metrics.map((metric) => ({
        name: metric.descriptor.name,
        description: metric.descriptor.description,
        points: metric.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value })),
      })),
    );
    write({ time: new Date().toISOString(), metrics }, this.pretty);
    done(SUCCESS);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export class JsonSpanExporter implements SpanExporter {
  constructor(private readonly pretty: boolean) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    for (const span of spans) {
      write(
        {
          name: span.name,
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
          parentSpanId: span.parentSpanContext?.spanId,
          kind: span.kind,
          start: new Date(hrToMs(span.startTime)).toISOString(),
          durationMs: Math.round(hrToMs(span.duration) * 1000) / 1000,
          status: span.status,
          attributes: span.attributes,
        },
        this.pretty,
      );
    }
    done(SUCCESS);
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
