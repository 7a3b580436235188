// The README's example (README.md "Watch an agent framework"): an agent
// traced with OpenTelemetry's JS SDK and the GenAI conventions, exported to
// wherever OTEL_EXPORTER_OTLP_ENDPOINT points (Vigil's HTTP port), with the
// token from OTEL_EXPORTER_OTLP_HEADERS. tests/otel-sdk/otel-e2e.mjs runs it.
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:7601 node example-agent.mjs
import { context, trace, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';

const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'example-agent' }),
  // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT and _HEADERS itself.
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
});
const tracer = provider.getTracer('example-agent');

// One agent run: a model call, then a tool call.
const run = tracer.startSpan('invoke_agent Helper', {
  attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': 'helper',
    'gen_ai.agent.name': 'Helper' },
});
const inRun = trace.setSpan(context.active(), run);
const chat = tracer.startSpan('chat gpt-4o-mini', {
  attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': 420,
    'gen_ai.usage.output_tokens': 36 },
}, inRun);
chat.end();
const tool = tracer.startSpan('execute_tool get_weather', {
  attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'get_weather' },
}, inRun);
tool.end();
run.setStatus({ code: SpanStatusCode.OK });
run.end();

await provider.shutdown(); // flushes the batch
console.log(`trace ${run.spanContext().traceId}, run run-${run.spanContext().spanId}`);
