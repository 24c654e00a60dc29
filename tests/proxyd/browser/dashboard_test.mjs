// The dashboard in headless Chromium (devtools.mjs), as a client on its own host sees it.
// Usage: node --experimental-websocket dashboard_test.mjs URL ARTIFACTS_DIR
// Loads URL at 1280x800 and at 390x844, light and dark, and checks that the hosts, the models,
// the graph and the controls show, that the keyboard reaches the graph and the host cards,
// that the page's buttons drain and undrain host-a's llm (workerd runs there), and that no
// console error occurs; saves screenshots in ARTIFACTS_DIR. Then prints READY and
// waits for "GO <ms since the epoch>" on stdin: the time just before the test changed the
// network (host-c marked dead); the event must be listed within 2 s of it. Prints OK and exits
// 0, or prints FAIL and why and exits 1.
import { createInterface } from "node:readline";
import { open, drainAndUndrain } from "./devtools.mjs";

const [url, artifacts] = process.argv.slice(2);
const page = await open(artifacts);
const { fail, finish, evaluate, waitFor, screenshot, viewport, scheme, key, redrawn, navigate, problems } = page;

try {
  await navigate(url);

  // Hosts, models, graph, controls.
  await waitFor("three hosts with host-b's GPU and the models m1 and m2",
    `document.querySelectorAll('#hosts .host').length === 3 && document.querySelectorAll('#graph .node').length === 3
     && document.querySelectorAll('#graph .link.known').length === 1
     && /m1/.test(document.querySelector('#models tbody').textContent) && /m2/.test(document.querySelector('#models tbody').textContent)
     && document.querySelectorAll('.spark polyline').length >= 3`, 15000);
  const shown = await evaluate(`({
    hosts: [...document.querySelectorAll('#hosts .host h3')].map(h => h.textContent),
    self: document.querySelectorAll('#graph .node.self').length,
    links: [...document.querySelectorAll('#graph .link')].map(l => l.classList.contains('known') ? getComputedStyle(l).stroke : 'unknown'),
    m1: [...document.querySelectorAll('#models tbody tr')].find(r => r.firstChild.textContent === 'm1')?.textContent || '',
    drain: [...document.querySelectorAll('#hosts button')].map(b => b.textContent),
    keyForm: !!document.getElementById('key-form') })`);
  for (const name of ["host-a", "host-b", "host-c"])
    if (!shown.hosts.some((h) => h.startsWith(name))) await fail("no card for " + name + ": " + JSON.stringify(shown.hosts));
  if (shown.self !== 1) await fail("this host is not marked in the graph once: " + shown.self);
  // host-b's link is coloured as near (3.5 ms), host-c's is unknown: dashed, uncoloured.
  const near = await evaluate(`(() => { const probe = document.createElement('span'); probe.style.color = 'var(--rtt-good)';
    document.body.appendChild(probe); const color = getComputedStyle(probe).color; probe.remove(); return color; })()`);
  if (shown.links.length !== 2 || !shown.links.includes("unknown") || !shown.links.includes(near))
    await fail("the links are not one near (" + near + ") and one unknown: " + JSON.stringify(shown.links));
  if (!/^m12\/2/.test(shown.m1)) await fail("m1 does not show two ready providers: " + shown.m1);
  if (!shown.drain.includes("Drain host") || !shown.drain.includes("Undrain host"))
    await fail("a client on this host sees no drain controls: " + JSON.stringify(shown.drain));
  if (shown.keyForm) await fail("a client on this host is asked for the admin key");
  await screenshot("dashboard-1280x800.png");

  // The keyboard: the first Tab reaches a host of the graph (and keeps it over a refresh), Enter its card.
  await key("keyDown", "Tab", 9); await key("keyUp", "Tab", 9);
  if (!(await evaluate("document.activeElement?.classList?.contains('node')"))) await fail("Tab does not reach the graph");
  await redrawn();
  if (!(await evaluate("document.activeElement?.classList?.contains('node')"))) await fail("a refresh takes the focus away");
  await key("keyDown", "Enter", 13); await key("keyUp", "Enter", 13);
  if (!(await evaluate("document.activeElement?.id?.startsWith('host-')"))) await fail("Enter on a graph node does not open its card");

  // Dark theme.
  await evaluate("document.activeElement.blur(), window.scrollTo(0, 0)");
  const light = await evaluate("getComputedStyle(document.body).backgroundColor");
  await scheme("dark");
  await redrawn();
  if ((await evaluate("getComputedStyle(document.body).backgroundColor")) === light) await fail("no dark theme");
  await screenshot("dashboard-1280x800-dark.png");

  // A phone: one column, nothing wider than the screen.
  await scheme("light");
  await viewport(390, 844, true);
  await evaluate("window.scrollTo(0, 0)");
  await redrawn();
  const width = await evaluate("({ page: document.documentElement.scrollWidth, view: window.innerWidth })");
  if (width.page > width.view) await fail("the page is wider than a 390 px screen: " + width.page);
  await screenshot("dashboard-390x844.png");
  await viewport(1280, 800, false);

  // Control: drain and undrain with the page's buttons.
  await drainAndUndrain(page, "dashboard-drained.png");

  if (problems.length) await fail("console errors: " + problems.join("; "));

  // A change: host-c marked dead.
  console.log("READY");
  const line = await new Promise((resolve) => createInterface({ input: process.stdin }).once("line", resolve));
  const changed = Number(line.split(" ")[1]);
  await waitFor("the event 'dead' for host-c",
    `[...document.querySelectorAll('#events li[data-kind="dead"]')].some(li => li.textContent.includes('host-c'))`, 10000);
  const latency = Date.now() - changed;
  await screenshot("dashboard-event.png");
  if (latency > 2000) await fail("the event showed " + latency + " ms after the change (more than 2 s)");
  if (problems.length) await fail("console errors: " + problems.join("; "));
  console.log("OK event after " + latency + " ms");
  finish(0);
} catch (error) {
  await fail(error.stack || error.message);
}
