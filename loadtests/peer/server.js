// The benchmark's peer: Clerk's own Express SDK deciding the same requests clerk_authd decides.
// clerkMiddleware() authenticates every request (CLERK_SECRET_KEY, CLERK_PUBLISHABLE_KEY and CLERK_API_URL
// from the environment point it at the benchmark's FakeClerk; it fetches the JWKS from there once and keeps
// it), and the handler answers like /verify: 200 with the user id when signed in, 401 otherwise.
// It listens on port 0 on loopback and prints the URL, as `clerk-authd serve` does, so no port is guessed.
"use strict";
const express = require("express");
const { clerkMiddleware, getAuth } = require("@clerk/express");

const authorizedParties = (process.env.CLERK_AUTHORIZED_PARTIES || "").split(",").filter(Boolean);
const app = express();
app.disable("x-powered-by");
app.disable("etag");
app.get("/healthz", (req, res) => res.status(200).end()); // readiness, before any auth
app.use(clerkMiddleware({ authorizedParties }));
app.all("/verify", (req, res) => {
  const auth = getAuth(req);
  res.status(auth.userId ? 200 : 401).set("x-clerk-user-id", auth.userId || "").end();
});
const server = app.listen(0, "127.0.0.1", () => {
  console.log(`clerk-express: listening on http://127.0.0.1:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
