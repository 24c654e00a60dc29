// API keys on ocf-proxyd through the official OpenAI SDK for Node.js: the errors a client gets
// without a valid key (401) and over a key's limits (429), as OpenAI's API answers them.
// Usage: node openai_keys_test.mjs http://127.0.0.1:PORT/v1 MODEL
// The host needs these keys: sk-good (no limits), sk-limited (rpm=2), sk-single (streams=1).
import assert from "node:assert/strict";
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = (apiKey) => new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 30000 });
const messages = [{ role: "user", content: "Hello" }];
const chat = (apiKey, more = {}) => client(apiKey).chat.completions.create({ model, messages, ...more });

// A key this host does not know: 401 invalid_api_key, OpenAI's AuthenticationError.
await assert.rejects(chat("sk-wrong"), (error) => {
  assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
  assert.equal(error.status, 401);
  assert.equal(error.code, "invalid_api_key");
  assert.equal(error.type, "invalid_request_error");
  return true;
});
await assert.rejects(client("sk-wrong").models.list(), OpenAI.AuthenticationError);

// A valid key: everything works as without keys.
const models = [];
for await (const item of client("sk-good").models.list()) models.push(item.id);
assert.ok(models.includes(model), `models.list() lacks ${model}: ${models}`);
assert.equal((await chat("sk-good")).object, "chat.completion");

// rpm=2: the third request of the minute is a RateLimitError with Retry-After.
await chat("sk-limited");
await chat("sk-limited");
await assert.rejects(chat("sk-limited"), (error) => {
  assert.ok(error instanceof OpenAI.RateLimitError, String(error));
  assert.equal(error.status, 429);
  assert.equal(error.code, "rate_limit_exceeded");
  assert.equal(error.type, "requests");
  const retry = Number(error.headers["retry-after"]);
  assert.ok(retry >= 1 && retry <= 60, `Retry-After: ${error.headers["retry-after"]}`);
  return true;
});

// streams=1: a second request while a stream is open is refused, accepted once it ended.
const stream = await chat("sk-single", { stream: true, max_tokens: 4 });
const iterator = stream[Symbol.asyncIterator]();
await iterator.next();
await assert.rejects(chat("sk-single"), (error) => {
  assert.ok(error instanceof OpenAI.RateLimitError, String(error));
  assert.equal(error.code, "rate_limit_exceeded");
  return true;
});
while (!(await iterator.next()).done);
assert.equal((await chat("sk-single")).object, "chat.completion");

console.log("API keys: 401 and 429 as OpenAI's SDK expects them");
