#!/usr/bin/env node
// Node.js `ws` peer server for wsactor's interop tests.
//
// Listens on 127.0.0.1, port 0 (ephemeral). When ready it prints the port
// alone on one stdout line; after that it prints one JSON object per line for
// every closed connection:
//   {"event":"closed","id":...,"path":...,"code":...,"reason":...}
//
// Paths:
//   /echo              echo every message with its type (default for unknown paths)
//   /headers           send one text message: JSON object of the request headers
//                      (lower-case names, repeated headers joined with ", ")
//   /close?code=C&reason=R   close with C/R right after the opening handshake
//   /stream            push binary messages until the peer goes away (bounded)
// Every path selects the subprotocol "chat.v2" when the client offers it.
// The query parameter id=... is copied into the "closed" report.
//
// Flags: --tls-cert FILE --tls-key FILE (or env INTEROP_TLS_CERT /
// INTEROP_TLS_KEY) serve wss instead of ws. The server exits when its stdin
// reaches EOF.
'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const MAX_SIZE = 32 * 1024 * 1024;
const STREAM_CHUNK = 64 * 1024;
const STREAM_MAX_BYTES = 512 * 1024 * 1024;
const STREAM_MAX_MS = 60 * 1000;
const STREAM_HIGH_WATER = 1024 * 1024;

function flag(name, envName) {
  const i = process.argv.indexOf(name);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return process.env[envName] || '';
}

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const certFile = flag('--tls-cert', 'INTEROP_TLS_CERT');
const keyFile = flag('--tls-key', 'INTEROP_TLS_KEY');

const server = certFile || keyFile
  ? https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) })
  : http.createServer();

server.on('request', (req, res) => {
  res.writeHead(426, { 'Content-Type': 'text/plain' });
  res.end('websocket only\n');
});

const wss = new WebSocketServer({
  server,
  maxPayload: MAX_SIZE,
  perMessageDeflate: false,
  handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
});

function stream(ws) {
  const chunk = Buffer.alloc(STREAM_CHUNK);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  let sent = 0;
  const deadline = Date.now() + STREAM_MAX_MS;
  const pump = () => {
    while (ws.readyState === ws.OPEN) {
      if (sent >= STREAM_MAX_BYTES || Date.now() > deadline) {
        ws.close(1000, 'stream limit');
        return;
      }
      if (ws.bufferedAmount > STREAM_HIGH_WATER) {
        // Wait for this send to be flushed before queueing more.
        ws.send(chunk, { binary: true }, (err) => { if (!err) setImmediate(pump); });
        sent += chunk.length;
        return;
      }
      ws.send(chunk, { binary: true });
      sent += chunk.length;
    }
  };
  pump();
}

wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const id = url.searchParams.get('id') || '';
  ws.on('error', () => {});
  ws.on('close', (code, reason) => {
    report({ event: 'closed', id, path: url.pathname, code, reason: reason.toString('utf8') });
  });

  switch (url.pathname) {
    case '/headers': {
      const out = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i].toLowerCase();
        const v = req.rawHeaders[i + 1];
        out[k] = k in out ? out[k] + ', ' + v : v;
      }
      const sorted = {};
      for (const k of Object.keys(out).sort()) sorted[k] = out[k];
      ws.send(JSON.stringify(sorted));
      break;
    }
    case '/close': {
      const code = parseInt(url.searchParams.get('code') || '1000', 10);
      const reason = url.searchParams.get('reason') || '';
      ws.close(code, reason);
      break;
    }
    case '/stream':
      stream(ws);
      break;
    default:
      ws.on('message', (data, isBinary) => {
        ws.send(data, { binary: isBinary });
      });
  }
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
