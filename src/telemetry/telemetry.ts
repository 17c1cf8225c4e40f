// Sets up metrics and tracing from configuration, once per process. With both off (the
// default) nothing from the OpenTelemetry SDK is even loaded: instruments are no-ops.
import { createServer, type Server } from 'node:http';
import { context, createNoopMeter, type Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { TelemetrySettings } from '../config.js';
import { Metrics } from './metrics.js';

export interface Telemetry {
  metrics: Metrics;
  /** Undefined when tracing is off, so callers skip the work of making spans. */
  tracer: Tracer | undefined;
  /** Where Prometheus scrapes, when METRIC_PROVIDER=prometheus. */
  metricsUrl: string | undefined;
  shutdown(): Promise<void>;
}

export const noTelemetry: Telemetry = {
  metrics: new Metrics(createNoopMeter()),
  tracer: undefined,
  metricsUrl: undefined,
  shutdown: async () => {},
};

/**
 * A package imported lazily, with its named exports whatever its module format: Node gives
 * a CommonJS package's named exports, but in the bundle (dist/bundle/) a CommonJS package
 * imported this way comes as its module.exports under `default` alone.
 */
async function lazily<T extends object>(load: Promise<T>): Promise<T> {
  const loaded = (await load) as T & { default?: Partial<T> };
  return { ...loaded.default, ...loaded };
}

async function startMeter(config: TelemetrySettings, log: Logger, host: string) {
  const { MeterProvider, PeriodicExportingMetricReader } = await lazily(import('@opentelemetry/sdk-metrics'));
  const { resourceFromAttributes } = await lazily(import('@opentelemetry/resources'));
  const resource = resourceFromAttributes({ 'service.name': 'diagnosis-server' });
  if (config.metricProvider === 'prometheus') {
    const { PrometheusExporter } = await lazily(import('@opentelemetry/exporter-prometheus'));
    // The exporter's own server cannot tell which port it got; this one can (tests use 0).
    const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    const provider = new MeterProvider({ resource, readers: [exporter] });
    const server: Server = createServer((request, response) => {
      if (request.url?.split('?')[0] === '/metrics' && request.method === 'GET') return exporter.getMetricsRequestHandler(request, response);
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(config.prometheusPort, host, resolve));
    const { port } = server.address() as { port: number };
    const metricsUrl = `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}/metrics`;
    log.info({ url: metricsUrl }, 'prometheus metrics');
    return {
      meter: provider.getMeter('diagnosis-server'),
      metricsUrl,
      shutdown: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await provider.shutdown();
      },
    };
  }
  const { JsonMetricExporter } = await import('./json-exporters.js');
  const reader = new PeriodicExportingMetricReader({
    exporter: new JsonMetricExporter(config.metricProvider === 'pretty'),
    exportIntervalMillis: config.metricExportIntervalMs,
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  return { meter: provider.getMeter('diagnosis-server'), metricsUrl: undefined, shutdown: () => provider.shutdown() };
}

async function startTracer(config: TelemetrySettings) {
  const { BasicTracerProvider, SimpleSpanProcessor } = await lazily(import('@opentelemetry/sdk-trace-base'));
  const { AsyncLocalStorageContextManager } = await lazily(import('@opentelemetry/context-async-hooks'));
  const { JsonSpanExporter } = await import('./json-exporters.js');
  // Spans of database queries find their request's span through async context.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new JsonSpanExporter(config.tracerProvider === 'pretty'))] });
  return { tracer: provider.getTracer('diagnosis-server'), shutdown: () => provider.shutdown() };
}

/** `host`: where the Prometheus endpoint listens, the same as the role's servers. */
export async function startTelemetry(config: TelemetrySettings, log: Logger, host: string): Promise<Telemetry> {
  if (!config.metricProvider && !config.tracerProvider) return noTelemetry;
  const meter = config.metricProvider ? await startMeter(config, log, host) : undefined;
  const tracing = config.tracerProvider ? await startTracer(config) : undefined;
  return {
    metrics: new Metrics(meter?.meter ?? createNoopMeter()),
    tracer: tracing?.tracer,
    metricsUrl: meter?.metricsUrl,
    shutdown: async () => {
      await meter?.shutdown();
      await tracing?.shutdown();
    },
  };
}
