// The real @clerk/express, one Express app per configuration, for tests/differential.
//
// Reads {"apiUrl", "secretKey", "configs": {name: clerkMiddleware options}} as JSON on stdin, listens on a free
// loopback port per configuration and prints {"ports": {name: port}} as one line on stdout. Every app is a user's
// app as Clerk documents it: clerkMiddleware(), then a handler answering 200 with getAuth(req, {acceptsToken:
// 'any'}) as JSON; an error Clerk throws reaches Express's error handler, answered 500 with its message. Clerk's
// own answers (the 307 of a handshake, its x-clerk-* headers and Set-Cookie) are left exactly as Clerk writes them.
'use strict';

// Clerk logs with console.log; stdout carries only the ports line
for (const level of ['log', 'info', 'warn', 'debug']) console[level] = (...args) => console.error(...args);

const express = require('express');
const { clerkMiddleware, createClerkClient, getAuth } = require('@clerk/express');

function appFor(apiUrl, secretKey, options) {
  const clerkClient = createClerkClient({ apiUrl, secretKey, publishableKey: options.publishableKey });
  const app = express();
  app.use(clerkMiddleware({ ...options, secretKey, clerkClient }));
  app.use((req, res) => {
    res.status(200).json({ auth: getAuth(req, { acceptsToken: 'any' }) });
  });
  // Express's four-argument error handler: what a throw inside authenticateRequest becomes
  app.use((err, req, res, next) => {
    res.status(500).json({ error: String((err && err.message) || err) });
  });
  return app;
}

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const { apiUrl, secretKey, configs } = JSON.parse(input);
  const ports = {};
  for (const [name, options] of Object.entries(configs)) {
    const server = appFor(apiUrl, secretKey, options).listen(0, '127.0.0.1');
    await new Promise((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    ports[name] = server.address().port;
  }
  process.stdout.write(JSON.stringify({ ports }) + '\n');
}

main().catch(err => {
  process.stderr.write(`differential server: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
