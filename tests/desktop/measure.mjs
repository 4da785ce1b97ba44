// The desktop app's figures (BENCHMARKS.md): idle memory of the whole process
// tree, time to the first window, and UI frame times while about 1,000 audit
// events per second stream in. Prints figures, asserts nothing. Run through
// run.sh (`make measure-desktop`), which owns the display, bus and driver.
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { Session } from "./webdriver.mjs";
import { alive, appPid, countAuditRows, dataDir, env, freePort, mcp, processTree, rss } from "./common.mjs";

const LAUNCHES = Number(process.env.LAUNCHES ?? 5);
const RATE = Number(process.env.RATE ?? 1000); // tool calls (= audit events) per second
const SECONDS = Number(process.env.SECONDS ?? 10);
const FRAME = 1000 / 60;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs) => pct([...xs].sort((a, b) => a - b), 50);
const ms = (x) => `${x.toFixed(0)} ms`;

/** Proportional set size (kB): shared pages split between the processes that map them. */
function pss(pid) {
  try {
    return Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by the processes in `pids`. */
function cpuSeconds(pids) {
  const tick = 100; // USER_HZ on Linux
  return pids.reduce((sum, pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return sum + (Number(f[11]) + Number(f[12])) / tick;
    } catch {
      return sum;
    }
  }, 0);
}

/** The app and its WebKit processes; the MCP servers it launched are not the app. */
function appTree(pid) {
  const servers = new Set();
  for (const p of processTree(pid)) {
    const name = rss([p])[0]?.name ?? "";
    if (name.startsWith("echo-server")) for (const s of processTree(p)) servers.add(s);
  }
  return processTree(pid).filter((p) => !servers.has(p));
}

async function launch(data) {
  const port = await freePort();
  const started = Date.now();
  const session = await Session.start(env.driver, env.app, ["--data-dir", data.dir, "--listen", `127.0.0.1:${port}`]);
  await session.cmd("POST", "/timeouts", { script: (SECONDS + 30) * 1000 });
  // Polled, so within ~10 ms of when the control panel's shell is on screen.
  let shell;
  for (;;) {
    if (await session.exec(() => !!document.querySelector('nav[aria-label="Main"]'))) {
      shell = Date.now() - started;
      break;
    }
    await sleep(10);
  }
  const page = await session.exec(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const paint = performance.getEntriesByType("paint").find((p) => p.name === "first-contentful-paint");
    return {
      origin: performance.timeOrigin,
      domReady: nav?.domContentLoadedEventEnd ?? null,
      firstPaint: paint?.startTime ?? null,
    };
  });
  return {
    session,
    port,
    pid: appPid(env.app),
    times: {
      navigation: page.origin - started,
      domReady: page.origin + page.domReady - started,
      firstPaint: page.firstPaint == null ? null : page.origin + page.firstPaint - started,
      shell,
    },
  };
}

async function quit(app) {
  await app.session.end();
  if (app.pid) {
    process.kill(app.pid, "SIGTERM");
    for (let i = 0; i < 300 && alive(app.pid); i++) await sleep(50);
  }
}

/** requestAnimationFrame deltas over `seconds`, measured in the page. */
function frames(session, seconds) {
  return session.execAsync(
    (s) =>
      new Promise((resolve) => {
        const deltas = [];
        let last = performance.now();
        const end = last + s * 1000;
        const step = (t) => {
          deltas.push(t - last);
          last = t;
          if (t < end) requestAnimationFrame(step);
          else resolve(deltas);
        };
        requestAnimationFrame(step);
      }),
    seconds,
  );
}

function frameFigures(deltas) {
  const sorted = [...deltas].sort((a, b) => a - b);
  const dropped = deltas.reduce((n, d) => n + Math.max(0, Math.round(d / FRAME) - 1), 0);
  return {
    frames: deltas.length,
    p50: pct(sorted, 50),
    p95: pct(sorted, 95),
    max: sorted[sorted.length - 1],
    dropped,
  };
}

/** Calls `echo__echo` at `rate` per second over a few sessions until `stop()`. */
async function load(base, token, rate) {
  const sessions = await Promise.all(Array.from({ length: 8 }, () => mcp(base, token)));
  let sent = 0;
  let done = 0;
  let failed = 0;
  let inflight = 0;
  let running = true;
  const started = performance.now();
  const pump = async () => {
    while (running) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      while (sent < due && inflight < 256) {
        const call = sessions[sent % sessions.length];
        sent++;
        inflight++;
        call("tools/call", { name: "echo__echo", arguments: { text: `load ${sent}` } })
          .then((r) => (r.error || r.result?.isError ? failed++ : done++))
          .catch(() => failed++)
          .finally(() => inflight--);
      }
      await sleep(2);
    }
  };
  const pumping = pump();
  return {
    counts: () => ({ done, failed, sent }),
    async stop() {
      running = false;
      await pumping;
      while (inflight > 0) await sleep(10);
      return { done, failed, seconds: (performance.now() - started) / 1000 };
    },
  };
}

const data = dataDir("measure-");
console.log(`Desktop app: ${env.app}`);
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Xvfb 1280×800`);

// Time to first window: the first launch starts with empty WebKit caches.
const launches = [];
let app;
for (let i = 0; i < LAUNCHES; i++) {
  if (app) await quit(app);
  app = await launch(data);
  launches.push(app.times);
}
const show = (k) => {
  const xs = launches.map((t) => t[k]).filter((x) => x != null);
  const first = launches[0][k] == null ? "n/a" : ms(launches[0][k]);
  return xs.length ? `${ms(median(xs))} (${first})` : "n/a";
};
const environ = readFileSync(`/proc/${app.pid}/environ`, "utf8").split("\0");
const dmabuf = environ.find((v) => v.startsWith("WEBKIT_DISABLE_DMABUF_RENDERER="))?.split("=")[1];
console.log(
  `WebKitGTK renderer: ${dmabuf && dmabuf !== "0" ? "older (WEBKIT_DISABLE_DMABUF_RENDERER=" + dmabuf + ")" : "DMA-BUF (default)"}`,
);
console.log(`\nTime to first window, median of ${LAUNCHES} launches (first launch of the run in brackets):`);
console.log(`  page navigation starts   ${show("navigation")}`);
console.log(`  DOM ready                ${show("domReady")}`);
console.log(`  first contentful paint   ${show("firstPaint")}`);
console.log(`  control panel rendered   ${show("shell")}`);

// Idle memory: servers ready, nothing happening.
await app.session.waitFor("nav", () => !!document.querySelector('nav[aria-label="Main"]'));
await app.session.click('nav[aria-label="Main"] a[title="Servers"]');
await app.session.waitFor("echo ready", () => !!document.querySelector('tr[data-server="echo"] .state-ready'), {
  timeout: 60_000,
});
await sleep(10_000);
const tree = appTree(app.pid);
const mem = rss(tree).map((p) => ({ ...p, pss: pss(p.pid) }));
const kb = (k) => `${(mem.reduce((s, p) => s + p[k], 0) / 1024).toFixed(0)} MB`;
console.log(`\nIdle memory (servers ready, 10 s idle), ${mem.length} processes: RSS ${kb("kb")}, PSS ${kb("pss")}`);
for (const p of mem) console.log(`  ${p.name.padEnd(16)} RSS ${(p.kb / 1024).toFixed(0).padStart(4)} MB  PSS ${(p.pss / 1024).toFixed(0).padStart(4)} MB`);

// Frame times: idle, then on Activity with the live log streaming.
await app.session.click('nav[aria-label="Main"] a[title="Activity"]');
await app.session.waitFor("activity", () => document.querySelector("main h1")?.textContent === "Activity");
const idle = frameFigures(await frames(app.session, 5));
const base = `http://127.0.0.1:${app.port}`;
const generator = await load(base, data.token, RATE);
await sleep(2000); // reach the rate before measuring
await countAuditRows(app.session);
const cpu0 = cpuSeconds(appTree(app.pid));
const before = generator.counts();
const t0 = performance.now();
const busy = frameFigures(await frames(app.session, SECONDS));
const elapsed = (performance.now() - t0) / 1000;
const cpu = (cpuSeconds(appTree(app.pid)) - cpu0) / elapsed;
const during = generator.counts();
const rate = (during.done - before.done) / elapsed;
const seen = await app.session.exec(() => window.__auditSeen);
const total = await generator.stop();
const row = (name, f) =>
  `  ${name.padEnd(28)} ${String(f.frames).padStart(5)} frames  p50 ${f.p50.toFixed(1)} ms  p95 ${f.p95.toFixed(1)} ms  max ${f.max.toFixed(1)} ms  dropped ${f.dropped}`;
console.log(`\nFrame times (requestAnimationFrame deltas, Activity screen):`);
console.log(row("idle, 5 s", idle));
console.log(row(`${rate.toFixed(0)} events/s, ${SECONDS} s`, busy));
console.log(
  `  delivered to the page: ${(seen.rows / elapsed).toFixed(0)} rows/s in ${(seen.messages / elapsed).toFixed(0)} messages/s` +
    ` (largest ${(seen.largest / 1024).toFixed(1)} kB)`,
);
console.log(
  `  load: ${total.done} calls, ${total.failed} failed; app process tree CPU ${(cpu * 100).toFixed(0)}% of one core while streaming`,
);
await quit(app);
