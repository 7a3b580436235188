// Emits a small agent run with the OpenTelemetry JS SDK (a manager's
// invoke_agent span, a chat call and a failing tool call under it) and
// exports the same finished spans twice with the SDK's own exporter of
// KIND (proto, json: OTLP/HTTP; grpc: OTLP/gRPC), as an exporter retrying
// would. Prints the trace id. Usage: node export.mjs KIND HTTP_PORT GRPC_PORT
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor }
  from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { context, trace, SpanStatusCode } from '@opentelemetry/api';
import { Metadata } from '@grpc/grpc-js';

const [kind, httpPort, grpcPort] = process.argv.slice(2);
const memory = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': `js-${kind}` }),
  spanProcessors: [new SimpleSpanProcessor(memory)],
});
const tracer = provider.getTracer('vigil-otlp-test');
const run = tracer.startSpan('invoke_agent manager', { attributes: {
  'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'manager' } });
const inRun = trace.setSpan(context.active(), run);
tracer.startSpan('chat gpt-4o-mini', { attributes: {
  'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': 1200,
  'gen_ai.usage.output_tokens': 300 } }, inRun).end();
const tool = tracer.startSpan('execute_tool search', { attributes: {
  'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' } }, inRun);
tool.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
tool.end();
run.end();
await provider.forceFlush();
const spans = memory.getFinishedSpans();

const authorization = `Bearer ${process.env.VIGIL_TOKEN ?? ''}`;
const headers = { Authorization: authorization };
const metadata = new Metadata();
metadata.set('authorization', authorization);
const exporter =
    kind === 'proto' ? new ProtoExporter({ url: `http://127.0.0.1:${httpPort}/v1/traces`, headers })
  : kind === 'json' ? new JsonExporter({ url: `http://127.0.0.1:${httpPort}/v1/traces`, headers })
  : new GrpcExporter({ url: `http://127.0.0.1:${grpcPort}`, metadata });
for (let attempt = 0; attempt < 2; ++attempt) {
  const result = await new Promise((resolve) => exporter.export(spans, resolve));
  if (result.code !== 0) {
    console.error(`export ${attempt} failed:`, result.error?.message ?? result);
    process.exit(1);
  }
}
await exporter.shutdown();
console.log(run.spanContext().traceId);
