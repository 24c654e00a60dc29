// ocf-proxyd through the official OpenAI SDK for Node.js, as its users' clients would use it.
// Usage: node openai_test.mjs http://127.0.0.1:PORT/v1 MODEL BACKEND_NAME MODEL2 BACKEND2_NAME
// The network must serve MODEL from a test backend named BACKEND_NAME (ocf-test-backend), and
// MODEL2 from another, BACKEND2_NAME.
import assert from "node:assert/strict";
import OpenAI, { toFile } from "openai";

const [baseURL, model, backend, model2, backend2] = process.argv.slice(2);
const root = baseURL.replace(/\/v1$/, "");
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

// stream_options.include_usage: the last chunk, without choices, carries the usage.
const counted = await client.chat.completions.create({ model, messages, stream: true, max_tokens: 3,
                                                       stream_options: { include_usage: true } });
let usage = null;
for await (const chunk of counted) if (chunk.usage) usage = chunk.usage;
assert.equal(usage?.completion_tokens, 3, `usage ${JSON.stringify(usage)}`);

// Embeddings as the SDK asks by default (base64, decoded by the SDK), and as floats.
const embeddings = await client.embeddings.create({ model, input: "vector me" });
assert.deepEqual(Array.from(embeddings.data[0].embedding), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => i / 8));
const floats = await client.embeddings.create({ model, input: "vector me", encoding_format: "float" });
assert.deepEqual(floats.data[0].embedding, [1, 2, 3, 4, 5, 6, 7, 8].map((i) => i / 8));

// The Responses API.
const answer = await client.responses.create({ model, input: "Hello" });
assert.equal(answer.object, "response");
assert.ok(answer.output_text.startsWith(`${backend}:`), answer.output_text);

// Audio: an upload (multipart/form-data) routed by its form's model, to each model's backend.
const wav = async () => toFile(Buffer.from("RIFF\0\0\0\0WAVEfmt fake audio"), "hello.wav", { type: "audio/wav" });
const transcription = await client.audio.transcriptions.create({ model, file: await wav() });
assert.ok(transcription.text.startsWith(`${backend}:`) && transcription.text.endsWith("with a file"), transcription.text);
const translation = await client.audio.translations.create({ model: model2, file: await wav() });
assert.ok(translation.text.startsWith(`${backend2}:`), translation.text);
const speech = await client.audio.speech.create({ model, voice: "alloy", input: "Hello" });
assert.equal(Buffer.from(await speech.arrayBuffer()).subarray(0, 4).toString(), "RIFF");
const moderation = await client.moderations.create({ model: model2, input: "Hello" });
assert.equal(moderation.results[0].flagged, false);
await assert.rejects(client.audio.transcriptions.create({ model: "no-such-model", file: await wav() }), (error) => {
  assert.ok(error instanceof OpenAI.NotFoundError, String(error));
  assert.equal(error.code, "model_not_found");
  return true;
});

// vLLM's rerank and score (no SDK method): plain requests, routed by model.
for (const [path, body] of [["rerank", { query: "q", documents: ["a", "b"] }], ["score", { text_1: "a", text_2: "b" }]]) {
  const reply = await fetch(`${baseURL}/${path}`, { method: "POST", headers: { "Content-Type": "application/json" },
                                                   body: JSON.stringify({ model: model2, ...body }) });
  assert.equal(reply.status, 200, path);
  assert.equal((await reply.json()).backend, backend2, path);
}

// Through /v1/service/llm/...: an upload goes to a provider of its form's model, every time.
for (let i = 0; i < 8; i++) {
  for (const [name, served] of [[model, backend], [model2, backend2]]) {
    const form = new FormData();
    form.append("file", new Blob(["RIFF fake audio"], { type: "audio/wav" }), "a.wav");
    form.append("model", name);
    const reply = await fetch(`${root}/v1/service/llm/v1/audio/transcriptions`, { method: "POST", body: form });
    const text = await reply.text();
    assert.equal(reply.status, 200, `${name}: ${text}`);
    assert.ok(JSON.parse(text).text.startsWith(`${served}:`), `${name} went to ${text}`);
  }
}
// A malformed upload is refused with a clear 400 before it is forwarded.
const broken = await fetch(`${baseURL}/audio/transcriptions`, {
  method: "POST", headers: { "Content-Type": "multipart/form-data; boundary=xyz" },
  body: "--xyz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n" + model });
assert.equal(broken.status, 400);
assert.match((await broken.json()).error.message, /not valid multipart\/form-data: .*ends before its boundary/);

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

console.log(`openai ${OpenAI.VERSION ?? ""}: models, chat, streams with usage, embeddings (base64 and float), responses, audio, moderations, rerank, score and errors all as expected`);
