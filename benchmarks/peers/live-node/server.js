// The Node `ws` peer of vigild's live feed (README.md): one process, the
// gRPC Append of vigil.v1.EventStore answering with positions, and
// WebSocket /v1/live broadcasting each appended event to every connection
// as the frame vigild writes (gateway/internal/live_protocol.cc), each
// frame encoded once and handed to ws for every connection, as a user
// would write a broadcast server.
//
//   node server.js --grpc-listen 127.0.0.1:P --http-listen 127.0.0.1:Q
'use strict';

const crypto = require('crypto');
const http = require('http');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { WebSocketServer } = require('ws');

function parseArgs(argv) {
  const out = { grpc: '127.0.0.1:7600', http: '127.0.0.1:7601' };
  for (let i = 2; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (argv[i] === '--grpc-listen' && value) out.grpc = value;
    else if (argv[i] === '--http-listen' && value) out.http = value;
    else {
      console.error('usage: node server.js --grpc-listen HOST:PORT --http-listen HOST:PORT');
      process.exit(64);
    }
  }
  return out;
}

const args = parseArgs(process.argv);
const root = path.resolve(__dirname, '..', '..', '..');
const definition = protoLoader.loadSync(
  path.join(root, 'schemas', 'vigil', 'v1', 'event_store.proto'),
  { includeDirs: [path.join(root, 'schemas')], keepCase: true, longs: String, defaults: true });
const vigil = grpc.loadPackageDefinition(definition).vigil.v1;

// The log, in memory: the head position, each stream's last revision and
// the hash chain's last link (SHA-256 over the previous hash and the data,
// as vigild computes one per event; nothing is kept).
let head = 0;
const revisions = new Map();
let lastHash = Buffer.alloc(32);

const server = http.createServer((request, response) => {
  response.writeHead(404, { 'Content-Type': 'text/plain' });
  response.end('only /v1/live\n');
});
const wss = new WebSocketServer({
  server,
  path: '/v1/live',
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
  clientTracking: true,
});

wss.on('connection', (ws) => {
  // From now, as vigild answers a /v1/live without `from`.
  ws.send(`{"kind":"caught_up","position":${head}}`);
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      ws.send('{"kind":"error","message":"binary messages are not accepted; send JSON text"}');
      return;
    }
    let op;
    try {
      op = JSON.parse(data.toString()).op;
    } catch (e) {
      op = undefined;
    }
    if (op === 'ping') ws.send('{"kind":"pong"}');
    else ws.send('{"kind":"error","message":"this peer answers only {\\"op\\":\\"ping\\"}"}');
  });
  ws.on('error', () => {});
});

// {"kind":"event", ...} with vigild's keys in vigild's order; `data` is
// inlined when it is JSON (the bench's events are), base64 otherwise.
function eventFrame(event, stream, revision, position) {
  const contentType = event.content_type || 'application/json';
  const isJson = contentType === 'application/json';
  const data = event.data.length === 0 ? 'null' : event.data.toString('utf8');
  const metadata = event.metadata.length === 0 ? '{}' : event.metadata.toString('utf8');
  lastHash = crypto.createHash('sha256').update(lastHash).update(event.data).digest();
  return '{"kind":"event","event_id":' + JSON.stringify(event.event_id || crypto.randomUUID()) +
    ',"stream":' + JSON.stringify(stream) + ',"revision":' + revision +
    ',"position":' + position + ',"type":' + JSON.stringify(event.type) +
    (isJson ? ',"data":' + data : ',"data_base64":"' + event.data.toString('base64') + '"') +
    ',"content_type":' + JSON.stringify(contentType) + ',"metadata":' + metadata +
    ',"recorded_time_us":' + Date.now() * 1000 + ',"hash":"' + lastHash.toString('hex') + '"}';
}

function append(call, callback) {
  const request = call.request;
  if (!request.stream || request.events.length === 0) {
    callback({ code: grpc.status.INVALID_ARGUMENT, details: 'stream and events are required' });
    return;
  }
  const first = head + 1;
  let revision = revisions.has(request.stream) ? revisions.get(request.stream) : -1;
  for (const event of request.events) {
    ++head;
    ++revision;
    // Encoded once, the same bytes for every connection.
    const frame = Buffer.from(eventFrame(event, request.stream, revision, head));
    for (const ws of wss.clients) {
      if (ws.readyState === ws.OPEN) ws.send(frame, { binary: false });
    }
  }
  revisions.set(request.stream, revision);
  callback(null, {
    first_position: String(first),
    last_position: String(head),
    next_expected_revision: String(revision),
    deduplicated: false,
  });
}

const unimplemented = (call, callback) => {
  const error = { code: grpc.status.UNIMPLEMENTED, details: 'the live-node peer serves Append only' };
  if (callback) callback(error);
  else call.emit('error', error);
};
const handlers = {};
for (const name of Object.keys(vigil.EventStore.service)) handlers[name] = unimplemented;
handlers.Append = append;

const grpcServer = new grpc.Server();
grpcServer.addService(vigil.EventStore.service, handlers);
grpcServer.bindAsync(args.grpc, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) {
    console.error(`live-node: cannot listen on ${args.grpc}: ${error.message}`);
    process.exit(1);
  }
  const colon = args.http.lastIndexOf(':');
  server.listen(Number(args.http.slice(colon + 1)), args.http.slice(0, colon), () => {
    console.log(`live-node: gRPC on ${args.grpc}, WebSocket /v1/live on ${args.http}`);
  });
});

function stop() {
  for (const ws of wss.clients) ws.terminate();
  grpcServer.forceShutdown();
  server.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
