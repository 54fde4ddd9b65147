#!/usr/bin/env node
// A small static file server for dist/ (no dependencies): correct MIME types (WebAssembly
// needs application/wasm), no directory escapes, no caching. Usage:
//   node scripts/serve.mjs <dir> [host] [port]     (port 0 picks a free one)
// Prints "serving <dir> on http://host:port/" once listening.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] || 'dist');
const host = process.argv[3] || '127.0.0.1';
const port = Number(process.argv[4] ?? 8080);
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.css': 'text/css; charset=utf-8', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.toml': 'text/plain; charset=utf-8', '.ico': 'image/x-icon',
};

const server = http.createServer((req, res) => {
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    res.writeHead(400).end('bad request');
    return;
  }
  let file = path.join(root, pathname);
  if (!file.startsWith(root)) {
    res.writeHead(403).end('forbidden');
    return;
  }
  fs.stat(file, (err, st) => {
    if (!err && st.isDirectory()) file = path.join(file, 'index.html');
    fs.readFile(file, (err2, data) => {
      if (err2) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(200, {
        'content-type': types[path.extname(file)] || 'application/octet-stream',
        'cache-control': 'no-cache',
      });
      res.end(data);
    });
  });
});
server.listen(port, host, () => {
  const a = server.address();
  console.log(`serving ${root} on http://${a.address}:${a.port}/`);
});
