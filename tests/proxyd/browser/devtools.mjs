// Headless Chromium driven over the DevTools protocol with Node's own WebSocket (no package),
// for the dashboard's tests. A test script awaits open(), then uses what it returns; fail()
// says why, ends everything and never resolves, so the check awaiting it goes no further.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function open(artifacts) {
  const CHROMIUM = process.env.OCF_CHROMIUM || "/usr/bin/chromium";
  const profile = mkdtempSync(join(tmpdir(), "ocf-dashboard-"));
  mkdirSync(artifacts, { recursive: true });
  let browser, socket, finishing = false;
  setTimeout(() => fail("over 60 s in all"), 60000).unref();

  function fail(why) {
    if (!finishing) {
      console.log("FAIL " + why);
      finish(1);
    }
    return new Promise(() => {});
  }
  // Chromium runs in a process group of its own: all of it goes, then its profile.
  async function finish(code) {
    finishing = true;
    try { socket && socket.close(); } catch {}
    if (browser && browser.exitCode === null && browser.signalCode === null) {
      const exited = new Promise((resolve) => browser.once("exit", resolve));
      try { process.kill(-browser.pid, "SIGKILL"); } catch {}
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
    process.exit(code);
  }
  // Chromium prints its DevTools address on stderr once it listens.
  browser = spawn(CHROMIUM, ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
    "--user-data-dir=" + profile, "about:blank"], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  browser.on("exit", (code) => { if (!finishing) fail("chromium exited (" + code + ")"); });
  const endpoint = await new Promise((resolve, reject) => {
    let text = "";
    browser.stderr.on("data", (chunk) => {
      text += chunk;
      const found = text.match(/DevTools listening on (ws:\/\/\S+)/);
      if (found) resolve(found[1]);
    });
    browser.on("error", reject);
    setTimeout(() => reject(new Error("chromium did not start: " + text)), 15000).unref();
  }).catch((error) => fail(error.message));

  socket = new WebSocket(endpoint);
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = () => reject(new Error("no DevTools connection")); })
    .catch((error) => fail(error.message));
  let nextId = 1, session;
  const pending = new Map();
  const problems = [];           // console errors, exceptions and error log entries of the page
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.id && pending.has(data.id)) {
      const { resolve, reject } = pending.get(data.id);
      pending.delete(data.id);
      data.error ? reject(new Error(data.error.message)) : resolve(data.result);
    } else if (data.method === "Runtime.consoleAPICalled" && (data.params.type === "error" || data.params.type === "assert")) {
      problems.push("console." + data.params.type + ": " + data.params.args.map((a) => a.value ?? a.description).join(" "));
    } else if (data.method === "Runtime.exceptionThrown") {
      problems.push("exception: " + (data.params.exceptionDetails.exception?.description || data.params.exceptionDetails.text));
    } else if (data.method === "Log.entryAdded" && data.params.entry.level === "error") {
      problems.push("log: " + data.params.entry.text + " " + (data.params.entry.url || ""));
    }
  };
  function send(method, params = {}) {
    const id = nextId++;
    socket.send(JSON.stringify({ id, method, params, sessionId: session }));
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }))
      .catch((error) => { throw new Error(method + ": " + error.message); });
  }
  async function evaluate(expression) {
    const result = await send("Runtime.evaluate", { expression, returnByValue: true });
    if (result.exceptionDetails) throw new Error("evaluating " + expression + ": " + result.exceptionDetails.text);
    return result.result.value;
  }
  // Waits for a condition on the page (an expression), never for a fixed time.
  async function waitFor(what, expression, timeoutMs) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = await evaluate(expression);
      if (value) return value;
      if (Date.now() > until) await fail("waited " + timeoutMs + " ms for " + what);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  async function screenshot(name) {
    const shot = await send("Page.captureScreenshot", { format: "png" });
    writeFileSync(join(artifacts, name), Buffer.from(shot.data, "base64"));
  }
  async function viewport(width, height, mobile) {
    await send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile });
  }
  async function scheme(value) {
    await send("Emulation.setEmulatedMedia", { features: [{ name: "prefers-color-scheme", value }] });
  }
  function key(type, k, vk) {
    return send("Input.dispatchKeyEvent", { type, key: k, code: k, windowsVirtualKeyCode: vk });
  }
  // Text typed into the focused element, as a person would.
  function type(text) {
    return send("Input.insertText", { text });
  }
  // The page redrew since now: its "updated" time moved on.
  async function redrawn() {
    const before = await evaluate("document.getElementById('summary').textContent");
    await waitFor("a refresh", `document.getElementById('summary').textContent !== ${JSON.stringify(before)}`, 5000);
  }
  // A tab on url, at 1280x800 in the light scheme.
  async function navigate(url) {
    const target = await send("Target.createTarget", { url: "about:blank" });
    session = (await send("Target.attachToTarget", { targetId: target.targetId, flatten: true })).sessionId;
    await send("Runtime.enable");
    await send("Log.enable");
    await send("Page.enable");
    await viewport(1280, 800, false);
    await scheme("light");
    await send("Page.navigate", { url });
  }
  return { fail, finish, send, evaluate, waitFor, screenshot, viewport, scheme, key, type, redrawn, navigate, problems };
}

// The page's controls at work: host-a's llm drained with its button, then the host undrained
// with its own (a drained service leaves the table, and its buttons with it); each must show
// as an event, and no control may report an error. shot: the screenshot's name once drained.
export async function drainAndUndrain({ evaluate, waitFor, screenshot, fail }, shot) {
  const eventFor = (kinds) => `[...document.querySelectorAll('#events li')].some(li =>
    ${JSON.stringify(kinds)}.includes(li.dataset.kind) && li.textContent.includes('host-a · llm'))`;
  const click = (key) => evaluate(`document.querySelector('[data-focus="${key}"]').click()`);
  await click("drain/llm");
  await waitFor("host-a's llm draining", eventFor(["service_draining", "service_down"]), 15000);
  await screenshot(shot);
  await click("undrain/");
  await waitFor("host-a's llm back", eventFor(["service_up", "service_ready"]), 15000);
  const error = await evaluate("document.getElementById('error').textContent");
  if (error) await fail("a control failed: " + error);
}
