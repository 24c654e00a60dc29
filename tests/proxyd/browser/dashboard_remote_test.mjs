// The dashboard in headless Chromium (devtools.mjs), as a client on another machine sees it:
// run in a network namespace, so that its address is not loopback.
// Usage: node --experimental-websocket dashboard_remote_test.mjs URL ARTIFACTS_DIR ADMIN_KEY
// Checks that the page shows no drain control but asks for the admin key; that a wrong key is
// refused (the note says so, still no control); that the host's key brings the controls, and
// that they work: host-a's llm drained with its button and undrained with the host's, each
// listed as an event; no console error. Prints OK and exits 0, or FAIL and why and exits 1.
import { open, drainAndUndrain } from "./devtools.mjs";

const [url, artifacts, adminKey] = process.argv.slice(2);
const page = await open(artifacts);
const { fail, finish, evaluate, waitFor, screenshot, navigate, problems } = page;
const buttons = "[...document.querySelectorAll('#hosts button')].map(b => b.textContent)";
const note = "document.getElementById('key-note')?.textContent || ''";

// A key typed into the form and sent with its button, as a person would.
async function useKey(key) {
  await evaluate(`(() => { const input = document.getElementById('admin-key'); input.value = ${JSON.stringify(key)};
    document.querySelector('#key-form button[type=submit]').click(); })()`);
}

try {
  await navigate(url);
  await waitFor("three hosts and the key form",
    "document.querySelectorAll('#hosts .host').length === 3 && !!document.getElementById('key-form')", 15000);
  if ((await evaluate(buttons)).length) await fail("a client on another machine sees controls: " + await evaluate(buttons));
  await screenshot("dashboard-remote-key-form.png");

  await useKey("not-the-admin-key");
  await waitFor("the note that the key was refused", `/did not accept/.test(${note})`, 5000);
  if ((await evaluate(buttons)).length) await fail("a wrong key brought controls: " + await evaluate(buttons));
  if (await evaluate("document.getElementById('admin-key').value")) await fail("the key stays in the input after use");

  await useKey(adminKey);
  await waitFor("the drain controls", `${buttons}.includes('Drain host') && !document.getElementById('key-form')`, 5000);
  await screenshot("dashboard-remote-controls.png");
  await drainAndUndrain(page, "dashboard-remote-drained.png");
  if (problems.length) await fail("console errors: " + problems.join("; "));
  console.log("OK");
  finish(0);
} catch (error) {
  await fail(error.stack || error.message);
}
