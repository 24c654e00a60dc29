// ocf-proxyd through the official OpenAI SDK for Node.js, as its users' clients would use it.
// Usage: node openai_test.mjs http://127.0.0.1:PORT/v1 MODEL BACKEND_NAME
// The network must serve MODEL from a test backend named BACKEND_NAME (ocf-test-backend).
import assert from "node:assert/strict";
import OpenAI from "openai";

const [baseURL, model, backend] = process.argv.slice(2);
const client = new OpenAI({ apiKey: "unused", baseURL, maxRetries: 0, timeout: 30000 });
const messages = [{ role: "user", content: "Hello" }];

// The model list is aggregated from the network's live table.
const models = [];
for await (const item of client.models.list()) models.push(item.id);
assert.ok(models.includes(model), `models.list() lacks ${model}: ${models}`);
const one = await client.models.retrieve(model);
assert.equal(one.id, model);
// created is Unix seconds, as OpenAI's: a date of these years, not of the year 58,000.
const year = new Date(one.created * 1000).getUTCFullYear();
assert.ok(year >= 2024 && year < 2100, `created ${one.created} is the year ${year}`);

// A plain completion, and the node that served it.
const { data: chat, response } = await client.chat.completions.create({ model, messages }).withResponse();
assert.equal(chat.object, "chat.completion");
assert.ok(chat.choices[0].message.content.startsWith(`${backend}:`), chat.choices[0].message.content);
assert.ok(response.headers.get("x-computing-node"), "no X-Computing-Node header");
assert.ok(response.headers.get("x-request-id"), "no X-Request-Id header");

// Streams, chat and legacy completions: chunk by chunk.
const stream = await client.chat.completions.create({ model, messages, stream: true, max_tokens: 6 });
let text = "", chunks = 0;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  chunks++;
}
assert.ok(chunks >= 6, `only ${chunks} chunks`);
assert.equal(text, `${backend}: tok1 tok2 tok3 tok4 tok5`);
const legacy = await client.completions.create({ model, prompt: "Hi", stream: true, max_tokens: 3 });
let legacyText = "";
for await (const chunk of legacy) legacyText += chunk.choices[0]?.text ?? "";
assert.equal(legacyText, `${backend}: tok1 tok2`);

// encoding_format "float": the SDK otherwise asks for base64, which the test backend does not produce.
const embeddings = await client.embeddings.create({ model, input: "vector me", encoding_format: "float" });
assert.equal(embeddings.data[0].embedding.length, 8);

// Errors arrive as the SDK's typed errors, with OpenAI's codes.
await assert.rejects(client.chat.completions.create({ model: "no-such-model", messages }), (error) => {
  assert.ok(error instanceof OpenAI.NotFoundError, String(error));
  assert.equal(error.status, 404);
  assert.equal(error.code, "model_not_found");
  assert.equal(error.type, "invalid_request_error");
  // proxyd's own answers carry a request id too, as OpenAI's do.
  assert.match(error.request_id ?? "", /^[0-9a-f]{32}$/, `request_id ${error.request_id}`);
  return true;
});
await assert.rejects(client.chat.completions.create({ messages }), (error) => {
  assert.ok(error instanceof OpenAI.BadRequestError, String(error));
  assert.equal(error.status, 400);
  return true;
});

console.log(`openai ${OpenAI.VERSION ?? ""}: models, chat, streams, embeddings and errors all as expected`);
