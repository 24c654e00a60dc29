// The official OpenAI SDK for Node.js against one proxyd of the multi-host fabric: a streamed
// and a plain chat completion. Prints the node that served each ("stream NODE", "plain NODE");
// exits non-zero (with the SDK's error) when either fails or is not what the test backend says.
// Usage: node multihost_openai.mjs BASE_URL MODEL
// The packages come from tests/proxyd/node (npm ci there): the test links its node_modules
// next to a copy of this file.
import assert from "node:assert/strict";
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ apiKey: "unused", baseURL, maxRetries: 0, timeout: 30000 });
const messages = [{ role: "user", content: "Hello, fabric!" }];

// The test backend answers "<its --name>: tok1 tok2 ...", one token per event.
const { data: stream, response } = await client.chat.completions
  .create({ model, messages, stream: true, max_tokens: 4 }).withResponse();
let text = "", chunks = 0;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  chunks++;
}
assert.ok(chunks >= 4, `only ${chunks} chunks`);
assert.match(text, /^\S+: tok1 tok2 tok3$/);
console.log(`stream ${response.headers.get("x-computing-node")} ${JSON.stringify(text)}`);

const { data: chat, response: plainResponse } = await client.chat.completions
  .create({ model, messages, max_tokens: 3 }).withResponse();
assert.equal(chat.object, "chat.completion");
assert.match(chat.choices[0].message.content, /^\S+: tok1 tok2$/);
console.log(`plain ${plainResponse.headers.get("x-computing-node")} ${JSON.stringify(chat.choices[0].message.content)}`);
