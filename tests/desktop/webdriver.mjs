// A small W3C WebDriver client (fetch only): enough to drive the desktop app
// through WebKitWebDriver without a client library.

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class WebDriverError extends Error {}

export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  /** Starts the app `binary` (with `args`) under the driver at `base`. */
  static async start(base, binary, args = []) {
    const capabilities = {
      alwaysMatch: { browserName: "wry", "webkitgtk:browserOptions": { binary, args } },
    };
    const value = await send(base, "POST", "/session", { capabilities });
    return new Session(base, value.sessionId);
  }

  cmd(method, path, body) {
    return send(this.base, method, `/session/${this.id}${path}`, body);
  }

  /** Runs `fn` (a function or its source) in the page with `args`; returns its value. */
  exec(fn, ...args) {
    const script = typeof fn === "function" ? `return (${fn}).apply(null, arguments)` : fn;
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  /** Like `exec`, for an async function. */
  execAsync(fn, ...args) {
    const script = `const done = arguments[arguments.length - 1];
      Promise.resolve((${fn}).apply(null, Array.from(arguments).slice(0, -1)))
        .then((v) => done({ ok: v }), (e) => done({ err: String(e && e.stack || e) }));`;
    return this.cmd("POST", "/execute/async", { script, args }).then((r) => {
      if (r && "err" in r) throw new WebDriverError(r.err);
      return r?.ok;
    });
  }

  /** Polls `fn` in the page until it returns something truthy. */
  async waitFor(what, fn, { timeout = 20_000, args = [] } = {}) {
    const until = Date.now() + timeout;
    let last;
    for (;;) {
      try {
        last = await this.exec(fn, ...args);
        if (last) return last;
      } catch (e) {
        last = e;
      }
      if (Date.now() > until) throw new WebDriverError(`timed out waiting for ${what} (last: ${last})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** An element by CSS selector. */
  async find(css) {
    const value = await this.cmd("POST", "/element", { using: "css selector", value: css });
    return value[ELEMENT];
  }

  /** Clicks like a user: the driver moves the pointer and clicks in the page. */
  async click(css) {
    const id = await this.find(css);
    await this.cmd("POST", `/element/${id}/click`, {});
  }

  /** Clicks an element that `exec` returned. */
  async clickElement(ref) {
    if (!ref?.[ELEMENT]) throw new WebDriverError(`not an element: ${JSON.stringify(ref)}`);
    await this.cmd("POST", `/element/${ref[ELEMENT]}/click`, {});
  }

  /** Types into a field. */
  async type(css, text) {
    const id = await this.find(css);
    await this.cmd("POST", `/element/${id}/clear`, {});
    await this.cmd("POST", `/element/${id}/value`, { text });
  }

  /** A PNG of the window, after two animation frames so the last render is on screen. */
  async screenshot() {
    await this.execAsync(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }

  async end() {
    try {
      await send(this.base, "DELETE", `/session/${this.id}`);
    } catch {
      // The app may already be gone.
    }
  }
}

async function send(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WebDriverError(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  }
  if (!res.ok || json.value?.error) {
    const v = json.value ?? {};
    throw new WebDriverError(`${method} ${path}: ${v.error ?? res.status}: ${v.message ?? text.slice(0, 300)}`);
  }
  return json.value;
}
