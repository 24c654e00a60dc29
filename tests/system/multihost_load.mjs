// The multi-host test's load generator: short streamed chat completions started at a steady
// rate (an open loop: a request that hangs does not hold the next ones back), against a list of
// proxyds, one line of JSON per request, until SIGTERM (then the requests in flight finish and
// it exits). Only node:http, so it needs no packages.
//
// Usage: node multihost_load.mjs OUT.jsonl RATE MODEL NAME=URL...
//   e.g. node multihost_load.mjs /tmp/load.jsonl 20 mh-model mh3=http://10.77.0.3:8092 ...
//   RATE: requests started per second.
//
// Each request is sent to the next endpoint in turn. A client with several endpoints retries a
// connection that is refused (that proxyd is not listening: it is restarting) on the next
// endpoint, as it knows nothing was sent; anything else is final. One connection per request
// (no keep-alive), as many short-lived clients do, so a restarting proxyd never has an idle
// kept-alive connection of ours to close.
//
// Outcome of a request, as the test counts it:
//   ok           status 200 and the stream ended with "data: [DONE]"
//   lost         an HTTP error status, or the connection failed, was cut or timed out before
//                the first byte of the event stream (also: every endpoint refused, or the
//                generator had MAX_INFLIGHT requests open already)
//   interrupted  the stream was cut after it had started (the serving backend went away)
// "retries" counts the endpoints that refused the connection before one took it.
// Line: {"t0", "t1" (ms since the epoch), "first" (ms to the first body byte, or null), "via"
// (the endpoint that took it), "node" (X-Computing-Node), "status", "outcome", "retries",
// "error"}.
import fs from "node:fs";
import http from "node:http";

const [out, rateArg, model, ...endpointArgs] = process.argv.slice(2);
const endpoints = endpointArgs.map((arg) => {
  const at = arg.indexOf("=");
  return { name: arg.slice(0, at), url: new URL("/v1/chat/completions", arg.slice(at + 1)) };
});
// The client's own deadline for a whole request: 50 times what one takes on an idle fabric
// (10 tokens, 20 ms apart). Past it the client gives up: that request has failed.
const DEADLINE_MS = 10000;
const MAX_INFLIGHT = 500;
// Each request is a user of its own (its own prompt), so that a policy that routes by prompt
// prefix (the default, prefix) spreads them as it would many users, rather than sending one
// prompt to one backend every time.
let users = 0;
const body = () => JSON.stringify({ model, stream: true, messages: [{ role: "user", content: `Hello, fabric! I am user ${users++}.` }] });
const log = fs.createWriteStream(out, { flags: "a" });

// One attempt on one endpoint; resolves to what happened (never rejects).
function attempt(endpoint, body) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const result = { via: endpoint.name, node: null, status: null, first: null, outcome: null, error: null };
    let text = "";
    let done = false;
    const finish = (outcome, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      result.outcome = outcome;
      result.error = error ?? null;
      resolve(result);
    };
    const request = http.request(endpoint.url, {
      method: "POST", agent: false,
      headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
    }, (response) => {
      result.status = response.statusCode;
      result.node = response.headers["x-computing-node"] ?? null;
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        if (result.first === null) result.first = Date.now() - t0;
        text += chunk;
      });
      // An error status is lost whatever follows; a 200 stream is complete only with [DONE].
      const ended = (why) => {
        if (response.statusCode !== 200) finish("lost", `HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
        else if (text.includes("data: [DONE]")) finish("ok");
        else finish(result.first === null ? "lost" : "interrupted", why);
      };
      response.on("end", () => ended("stream ended without [DONE]"));
      response.on("error", (error) => ended(error.code ?? error.message));
      response.on("close", () => ended("closed before the end"));
    });
    const timer = setTimeout(() => {
      finish(result.first === null ? "lost" : "interrupted", `no end within ${DEADLINE_MS} ms`);
      request.destroy();
    }, DEADLINE_MS);
    request.on("error", (error) => {
      if (error.code === "ECONNREFUSED") finish("refused", error.code);
      else finish(result.first === null ? "lost" : "interrupted", error.code ?? error.message);
    });
    request.end(body);
  });
}

let next = 0, inflight = 0;
async function send() {
  const t0 = Date.now();
  let retries = 0, result;
  if (inflight >= MAX_INFLIGHT) {
    result = { outcome: "lost", error: `${MAX_INFLIGHT} requests in flight already` };
  } else {
    inflight++;
    const prompt = body();
    for (;;) {
      result = await attempt(endpoints[next++ % endpoints.length], prompt);
      if (result.outcome !== "refused") break;
      if (++retries >= endpoints.length) {
        result.outcome = "lost";
        result.error = "every endpoint refused the connection";
        break;
      }
    }
    inflight--;
  }
  log.write(JSON.stringify({ t0, t1: Date.now(), retries, ...result }) + "\n");
}

const ticker = setInterval(send, 1000 / Number(rateArg));
process.on("SIGTERM", () => {
  clearInterval(ticker);
  const finish = setInterval(() => {
    if (inflight) return;
    clearInterval(finish);
    log.end();
  }, 20);
});
