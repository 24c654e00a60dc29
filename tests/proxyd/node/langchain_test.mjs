// ocf-proxyd through LangChain's OpenAI chat model (@langchain/openai), as LangChain apps use
// it: chat, chat through the Responses API, and a stream with its usage (LangChain asks for
// stream_options.include_usage).
// Usage: node langchain_test.mjs http://127.0.0.1:PORT/v1 MODEL BACKEND_NAME
import assert from "node:assert/strict";
import { ChatOpenAI } from "@langchain/openai";

const [baseURL, model, backend] = process.argv.slice(2);
const chat = (more = {}) => new ChatOpenAI({ model, apiKey: "unused", configuration: { baseURL }, maxRetries: 0,
                                             timeout: 30000, ...more });

const reply = await chat().invoke("Hello");
assert.ok(reply.content.startsWith(`${backend}:`), JSON.stringify(reply.content));
assert.equal(reply.usage_metadata?.input_tokens, 8, JSON.stringify(reply.usage_metadata));

const viaResponses = await chat({ useResponsesApi: true }).invoke("Hello");
assert.ok(viaResponses.text.startsWith(`${backend}:`), JSON.stringify(viaResponses.content));

let text = "", chunks = 0, usage = null;
for await (const chunk of await chat({ maxTokens: 4 }).stream("Hello")) {
  text += chunk.content;
  chunks++;
  usage = chunk.usage_metadata ?? usage;
}
assert.equal(text, `${backend}: tok1 tok2 tok3`);
assert.ok(chunks >= 4, `only ${chunks} chunks`);
assert.equal(usage?.output_tokens, 4, `usage ${JSON.stringify(usage)}`);

console.log("@langchain/openai: chat, chat through the Responses API, and a stream with its usage all as expected");
