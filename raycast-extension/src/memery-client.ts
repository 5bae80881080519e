/**
 * The extension's only link to memery. It talks to `memery serve` over its Unix socket
 * (`<MEMERY_HOME>/memery.sock`, HTTP), starting the server detached on first use so that later
 * queries are warm; when no server can run it falls back to the `memery` CLI with `--json`.
 *
 * Processes are always started with argument arrays (never a shell), and the query only ever
 * travels as one argument or inside a JSON body: it is never part of a command string.
 * No search logic lives here: ranking, thresholds and folders are memery's.
 */
import { execFile, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { request, type IncomingMessage } from "node:http";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { childPath, expandHome, isNodeScript, locateMemery, locateNode } from "./locate";

/** One image of a result list (the server's and the CLI's `--json` shape). */
export interface MemeResult {
  /** Catalog file id (for image queries and thumbnails). */
  id: number;
  path: string;
  score: number;
  width: number | null;
  height: number | null;
  bytes: number;
  mtime: number;
}

/** A text query, or "more like this image" (a catalog result). */
export type MemeQuery = { text: string } | { similarTo: { id: number; path: string } };

export interface SearchParams {
  query: MemeQuery;
  /** Absolute folders to search; all indexed folders when empty or left out. */
  folders?: string[];
  n: number;
  /** Drop results scoring below this cosine similarity. */
  threshold?: number;
  signal?: AbortSignal;
}

export type Transport = "server" | "cli";

export interface SearchOutcome {
  results: MemeResult[];
  via: Transport;
}

export interface IndexProgress {
  phase: "scan" | "hash" | "encode" | "finish";
  done: number;
  total: number;
}

export interface IndexSummary {
  folder: string;
  found: number;
  new: number;
  unchanged: number;
  reembedded: number;
  moved: number;
  removed: number;
  failed: number;
  seconds: number;
  errors: Array<{ path: string; code: string; message: string }>;
}

export interface IndexedFolder {
  path: string;
  files: number;
  failed: number;
  indexedAt: number | null;
}

export interface MemeryStatus {
  home: string;
  folders: IndexedFolder[];
  counts: { files: number; failed: number; embeddings: number; folders: number };
  model: { name: string; id: string | null; dir: string | null };
  via: Transport;
}

/** What went wrong, in words a launcher can show: a reason and the fix. */
export type ErrorKind =
  | "memery-missing"
  | "node-missing"
  | "model-missing"
  | "folder-missing"
  | "server-failed"
  | "bad-request"
  | "cancelled"
  | "failed";

export class MemeryClientError extends Error {
  override name = "MemeryClientError";
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** What the user can do about it. */
    readonly hint: string,
    /** memery's error code (E_MODEL, E_NOT_FOUND, ...), when it gave one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface MemeryClientOptions {
  /** memery's home (catalog, models, socket); default: MEMERY_HOME, else memery's platform default. */
  home?: string;
  /** The `memery` executable (or its folder); default: found in the usual install locations. */
  memeryPath?: string;
  /** The `node` to run memery with; default: found in the usual install locations. */
  nodePath?: string;
  /** A local CLIP model folder (`--model-dir`). */
  modelDir?: string;
  /** A registry model name (`--model`). */
  model?: string;
  /** Start `memery serve` when none runs (default true); false: use the CLI when no server runs. */
  startServer?: boolean;
  /** Start the server with `--watch` (index new and changed images as they arrive; default: memery's config). */
  watch?: boolean;
  /** How long to wait for a started server's socket (default 60 s: the first start may load a model). */
  serverStartTimeoutMs?: number;
  /** Where the started server's output goes (default `<tmpdir>/memery-raycast-serve.log`). */
  serverLog?: string;
  /** Environment (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export const SOCKET_FILE = "memery.sock";
export const TOKEN_FILE = "server-token";
export const TOKEN_HEADER = "x-memery-token";

/** memery's home as memery itself computes it: MEMERY_HOME, else the platform data folder. */
export function defaultMemeryHome(env: NodeJS.ProcessEnv = process.env, platform: string = process.platform): string {
  if (env.MEMERY_HOME) return expandHome(env.MEMERY_HOME);
  const home = homedir();
  if (platform === "darwin") return join(home, "Library", "Application Support", "memery");
  if (platform === "win32") return join(env.LOCALAPPDATA ?? join(home, "AppData", "Local"), "memery", "Data");
  return join(env.XDG_DATA_HOME ?? join(home, ".local", "share"), "memery");
}

interface HttpAnswer {
  status: number;
  body: unknown;
}

interface ErrorBody {
  error?: { code?: string; message?: string; hint?: string };
}

const abortError = (): MemeryClientError => new MemeryClientError("cancelled", "The request was cancelled", "");

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Turns memery's error (code, message, hint) into a reason and a fix. */
export function classifyError(code: string | undefined, message: string, hint?: string): MemeryClientError {
  const m = message.trim();
  // The CLI gives no code: tell the cases apart by memery's messages (a path may contain any word).
  const text = m.replace(/(^|\s)\/\S*/g, " ");
  const folderGone = /^(folder not found|expected a folder|not a folder)/i.test(m);
  const kind: ErrorKind =
    code === "E_MODEL" || code === "E_DOWNLOAD" || code === "E_CHECKSUM" || code === "E_OFFLINE"
      ? "model-missing"
      : code === "E_NOT_FOUND" || folderGone
        ? "folder-missing"
        : code === "E_ABORTED"
          ? "cancelled"
          : code === "E_USAGE" || code === "E_BAD_REQUEST"
            ? "bad-request"
            : code === undefined && /\bmodel\b/i.test(text)
              ? "model-missing"
              : code === undefined && /not found|no such file|ENOENT/i.test(text)
                ? "folder-missing"
                : "failed";
  switch (kind) {
    case "model-missing":
      return new MemeryClientError(
        kind,
        m || "The CLIP model is not available",
        hint ??
          "Download it in Terminal with `memery models download <name>` (see `memery models`), or set Model Folder in the extension preferences.",
        code ?? "E_MODEL",
      );
    case "folder-missing":
      return new MemeryClientError(
        kind,
        m || "Folder not found",
        hint ?? "The folder was moved or deleted: fix Image Folders in the preferences, or index the new location.",
        code ?? "E_NOT_FOUND",
      );
    case "cancelled":
      return abortError();
    case "bad-request":
      return new MemeryClientError(kind, m, hint ?? "Check the query and the preferences.", code);
    default:
      return new MemeryClientError(
        kind,
        m || "memery failed",
        hint ?? "Run `memery status` in Terminal for details.",
        code,
      );
  }
}

/** Parses the CLI's stderr ("memery: error: MESSAGE", then "hint: HINT"). */
export function parseCliError(stderr: string): { message: string; hint?: string } {
  const lines = stderr
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const errLine = [...lines].reverse().find((l) => /^memery: /.test(l));
  const hintLine = lines.find((l) => /^hint: /.test(l));
  const message = (errLine ?? lines[lines.length - 1] ?? "memery failed")
    .replace(/^memery: (unexpected )?(error: )?/, "")
    .trim();
  return hintLine ? { message, hint: hintLine.replace(/^hint: /, "") } : { message };
}

export class MemeryClient {
  readonly home: string;
  readonly socketPath: string;
  readonly #o: MemeryClientOptions;
  readonly #env: NodeJS.ProcessEnv;
  #starting: Promise<boolean> | undefined;
  /** Why the server could not be started (the CLI is used instead). */
  #serverFailure: string | undefined;
  #lastVia: Transport | undefined;
  /** A server answered on the socket before (re-checked when a request cannot connect). */
  #serverUp = false;

  constructor(options: MemeryClientOptions = {}) {
    this.#o = options;
    this.#env = options.env ?? process.env;
    this.home = options.home && options.home.trim() !== "" ? expandHome(options.home) : defaultMemeryHome(this.#env);
    this.socketPath = join(this.home, SOCKET_FILE);
  }

  /** How the last request was answered. */
  get via(): Transport | undefined {
    return this.#lastVia;
  }

  /** Why the server is not used, when the CLI answers instead. */
  get serverFailure(): string | undefined {
    return this.#serverFailure;
  }

  // ---------------------------------------------------------------- transport

  /** Whether a memery server answers on the socket. */
  async serverRunning(timeoutMs = 1500): Promise<boolean> {
    if (!existsSync(this.socketPath)) return false;
    try {
      // /api/ping is cheap; a server without it answers 404 there, so ask its status instead.
      const ping = await this.#http("GET", "/api/ping", undefined, { timeoutMs });
      if (ping.status === 200) return (ping.body as { name?: unknown } | undefined)?.name === "memery";
      const r = await this.#http("GET", "/api/status", undefined, { timeoutMs });
      return r.status < 500;
    } catch {
      return false;
    }
  }

  /**
   * The server if one runs or can be started (once per client), else the CLI. Call early (e.g. when
   * a command opens) so that the model is loaded by the time the user has typed a query.
   */
  async connect(): Promise<Transport> {
    if (this.#serverUp && existsSync(this.socketPath)) return "server";
    this.#serverUp = await this.serverRunning();
    if (this.#serverUp) return "server";
    if (this.#o.startServer === false) return "cli";
    if (this.#serverFailure !== undefined) return "cli";
    this.#starting ??= this.#startServerWithRetry().finally(() => {
      this.#starting = undefined;
    });
    this.#serverUp = await this.#starting;
    return this.#serverUp ? "server" : "cli";
  }

  async #startServerWithRetry(): Promise<boolean> {
    const serve = ["serve", ...(this.#o.watch === true ? ["--watch"] : this.#o.watch === false ? ["--no-watch"] : [])];
    if (await this.#startServer(serve)) return true;
    // Another program holds memery's TCP port: the socket is all a launcher needs.
    if (/already in use/i.test(this.#serverFailure ?? "")) {
      this.#serverFailure = undefined;
      return this.#startServer([...serve, "--port", "0"]);
    }
    return false;
  }

  async #startServer(serveArgs: string[]): Promise<boolean> {
    let cmd: { file: string; args: string[]; env: NodeJS.ProcessEnv };
    try {
      cmd = this.command(serveArgs);
    } catch (e) {
      this.#serverFailure = (e as Error).message;
      return false;
    }
    const log = this.#o.serverLog ?? join(tmpdir(), "memery-raycast-serve.log");
    let fd: number | "ignore" = "ignore";
    try {
      fd = openSync(log, "w", 0o600);
    } catch {
      /* no log then */
    }
    let exited: { code: number | null; error?: Error } | undefined;
    try {
      mkdirSync(this.home, { recursive: true });
      const child = spawn(cmd.file, cmd.args, {
        detached: true,
        stdio: ["ignore", fd, fd],
        env: cmd.env,
        cwd: this.home,
      });
      child.on("error", (error) => (exited = { code: null, error }));
      child.on("exit", (code) => (exited ??= { code }));
      child.unref();
    } catch (e) {
      this.#serverFailure = (e as Error).message;
      return false;
    } finally {
      if (typeof fd === "number") closeSync(fd);
    }
    const deadline = Date.now() + (this.#o.serverStartTimeoutMs ?? 60_000);
    let otherStarting = false;
    for (let wait = 50; Date.now() < deadline; wait = Math.min(wait * 2, 500)) {
      if (await this.serverRunning(1000)) return true;
      if (exited && !otherStarting) {
        if (await this.serverRunning(1000)) return true;
        const output = readTail(log);
        const reason =
          exited.error?.message ?? (parseCliError(output).message || `memery serve exited with code ${exited.code}`);
        // Another server for this home is starting (another command opened at the same time): wait for it.
        if (/already running/i.test(reason)) otherStarting = true;
        else {
          this.#serverFailure = reason;
          return false;
        }
      }
      await sleep(wait);
    }
    this.#serverFailure = `memery serve did not answer on ${this.socketPath} within ${Math.round((this.#o.serverStartTimeoutMs ?? 60_000) / 1000)} s (see ${log})`;
    return false;
  }

  /**
   * The program and arguments that run `memery ARGS...` with this client's home and model: `node
   * memery.js ...` for an npm install (a launcher's PATH has no `node` for its `env node` line).
   */
  command(args: string[]): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
    const memery = locateMemery(this.#o.memeryPath, { env: this.#env });
    if (!memery.path) {
      const where = this.#o.memeryPath
        ? `at ${memery.searched.join(", ")}`
        : "in /opt/homebrew/bin, /usr/local/bin, ~/.npm-global/bin, ~/.volta/bin, nvm or PATH";
      throw new MemeryClientError(
        "memery-missing",
        `memery is not installed (no memery executable ${where})`,
        "Install the memery command (`npm install -g .` in a memery checkout; see the extension README), or set Memery Executable in the extension preferences (`which memery` in Terminal prints it).",
      );
    }
    const node = locateNode(this.#o.nodePath, { env: this.#env });
    const global = ["--home", this.home];
    if (this.#o.modelDir && this.#o.modelDir.trim() !== "") global.push("--model-dir", expandHome(this.#o.modelDir));
    else if (this.#o.model && this.#o.model.trim() !== "") global.push("--model", this.#o.model.trim());
    const env: NodeJS.ProcessEnv = { ...this.#env, PATH: childPath(node.path, { env: this.#env }), NO_COLOR: "1" };
    if (isNodeScript(memery.path)) {
      if (!node.path) {
        throw new MemeryClientError(
          "node-missing",
          `Node.js not found (memery at ${memery.path} needs it; looked ${this.#o.nodePath ? `at ${node.searched.join(", ")}` : "in /opt/homebrew/bin, /usr/local/bin, ~/.volta/bin, nvm and PATH"})`,
          "Install Node.js 20 or later (e.g. `brew install node`), or set Node Executable in the extension preferences (run `which node` in Terminal).",
        );
      }
      return { file: node.path, args: [memery.path, ...global, ...args], env };
    }
    return { file: memery.path, args: [...global, ...args], env };
  }

  /** Runs the CLI and returns its stdout; a non-zero exit becomes a MemeryClientError. */
  async #cli(args: string[], signal?: AbortSignal, onStderr?: (chunk: string) => void): Promise<string> {
    const cmd = this.command(args);
    return new Promise<string>((resolve, reject) => {
      const child = execFile(
        cmd.file,
        cmd.args,
        { env: cmd.env, maxBuffer: 64 * 1024 * 1024, encoding: "utf8", ...(signal ? { signal } : {}) },
        (error, stdout, stderr) => {
          if (!error) return resolve(stdout);
          if (signal?.aborted || error.name === "AbortError") return reject(abortError());
          const code = (error as NodeJS.ErrnoException).code;
          if (code === "ENOENT" || code === "EACCES") {
            return reject(
              new MemeryClientError(
                "memery-missing",
                `Cannot run ${cmd.file}: ${error.message}`,
                "Check Memery Executable and Node Executable in the extension preferences.",
              ),
            );
          }
          const parsed = parseCliError(stderr || error.message);
          reject(classifyError(undefined, parsed.message, parsed.hint));
        },
      );
      if (onStderr) child.stderr?.on("data", (d: Buffer | string) => onStderr(String(d)));
    });
  }

  #token(): string | undefined {
    try {
      return readFileSync(join(this.home, TOKEN_FILE), "utf8").trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** One HTTP request over the Unix socket; resolves with the response for streaming when `raw`. */
  #request(
    method: string,
    path: string,
    body: unknown,
    options: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(abortError());
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = { accept: "application/json, text/event-stream" };
      const token = this.#token();
      if (token) headers[TOKEN_HEADER] = token;
      if (payload) {
        headers["content-type"] = "application/json";
        headers["content-length"] = payload.length;
      }
      const req = request({ socketPath: this.socketPath, path, method, headers }, resolve);
      if (options.timeoutMs) {
        req.setTimeout(options.timeoutMs, () =>
          req.destroy(new Error(`memery server did not answer within ${options.timeoutMs} ms`)),
        );
      }
      const onAbort = () => req.destroy(abortError());
      options.signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => options.signal?.removeEventListener("abort", onAbort));
      req.on("error", (e) => reject(options.signal?.aborted ? abortError() : e));
      req.end(payload);
    });
  }

  async #http(
    method: string,
    path: string,
    body?: unknown,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<HttpAnswer> {
    const res = await this.#request(method, path, body, options);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let parsed: unknown = text;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.statusCode ?? 0, body: parsed };
  }

  #serverError(answer: HttpAnswer): MemeryClientError {
    const e = (answer.body as ErrorBody | undefined)?.error;
    const message =
      e?.message ??
      (typeof answer.body === "string" && answer.body ? answer.body : `memery server answered ${answer.status}`);
    if (answer.status === 404 && !e?.code) return classifyError("E_NOT_FOUND", message, e?.hint);
    return classifyError(e?.code ?? (answer.status === 400 ? "E_BAD_REQUEST" : undefined), message, e?.hint);
  }

  /** Runs `viaServer` when a server answers, else `viaCli`; a server that vanished falls back too. */
  async #either<T>(viaServer: () => Promise<T>, viaCli: () => Promise<T>): Promise<T> {
    if ((await this.connect()) === "server") {
      try {
        const r = await viaServer();
        this.#lastVia = "server";
        return r;
      } catch (e) {
        // The socket went away (server stopped): use the CLI; anything else is the answer.
        const code = (e as NodeJS.ErrnoException).code;
        if (!(code === "ECONNREFUSED" || code === "ENOENT" || code === "ECONNRESET" || code === "EPIPE")) throw e;
        this.#serverUp = false;
      }
    }
    const r = await viaCli();
    this.#lastVia = "cli";
    return r;
  }

  // ---------------------------------------------------------------- API

  /** Ranks images against the query (memery does the ranking; this only carries it). */
  async search(params: SearchParams): Promise<SearchOutcome> {
    const results = await this.#either(
      () => this.#searchServer(params),
      () => this.#searchCli(params),
    );
    return { results, via: this.#lastVia ?? "cli" };
  }

  async #searchServer(p: SearchParams): Promise<MemeResult[]> {
    const query = "text" in p.query ? { text: p.query.text } : { image: `id:${p.query.similarTo.id}` };
    const body: Record<string, unknown> = { query, n: p.n };
    if (p.threshold !== undefined) body.threshold = p.threshold;
    if (p.folders && p.folders.length > 0) body.folders = p.folders;
    const answer = await this.#http("POST", "/api/search", body, p.signal ? { signal: p.signal } : {});
    if (answer.status !== 200) throw this.#serverError(answer);
    return resultsOf(answer.body);
  }

  async #searchCli(p: SearchParams): Promise<MemeResult[]> {
    let folders = p.folders ?? [];
    if (folders.length === 0) folders = (await this.#statusCli(p.signal)).folders.map((f) => f.path);
    // Of several folders, search those still there (one gone must not hide the others' results).
    if (folders.length > 1) {
      const present = folders.filter((f) => existsSync(f));
      folders = present.length > 0 ? present : folders.slice(0, 1);
    }
    const all: MemeResult[] = [];
    for (const folder of folders) {
      const args = ["search", "--json", `--limit=${p.n}`];
      if (p.threshold !== undefined) args.push(`--threshold=${p.threshold}`);
      if ("similarTo" in p.query) args.push(`--image=${p.query.similarTo.path}`);
      // `--` ends the options: a query starting with "-" stays a query.
      args.push("--", folder);
      if ("text" in p.query) args.push(p.query.text);
      const out = await this.#cli(args, p.signal);
      all.push(...resultsOf(parseJson(out)));
    }
    if (folders.length === 1) return all;
    // Several folders, one CLI run each: memery's scores, best first across them.
    const seen = new Set<string>();
    return all
      .sort((a, b) => b.score - a.score)
      .filter((r) => (seen.has(r.path) ? false : (seen.add(r.path), true)))
      .slice(0, p.n);
  }

  /** Folders, counts and model of the catalog. */
  async status(signal?: AbortSignal): Promise<MemeryStatus> {
    return this.#either(
      async () => {
        const answer = await this.#http("GET", "/api/status", undefined, signal ? { signal } : {});
        if (answer.status !== 200) throw this.#serverError(answer);
        return statusOf(answer.body, "server");
      },
      () => this.#statusCli(signal),
    );
  }

  async #statusCli(signal?: AbortSignal): Promise<MemeryStatus> {
    return statusOf(parseJson(await this.#cli(["status", "--json"], signal)), "cli");
  }

  /** Indexes what changed under `folder`, reporting progress (server-sent events, or the CLI's lines). */
  async index(folder: string, onProgress?: (p: IndexProgress) => void, signal?: AbortSignal): Promise<IndexSummary> {
    const abs = expandHome(folder);
    let st;
    try {
      st = statSync(abs);
    } catch {
      throw new MemeryClientError(
        "folder-missing",
        `Folder not found: ${abs}`,
        "Check the path: the folder may have been moved or deleted.",
        "E_NOT_FOUND",
      );
    }
    if (!st.isDirectory()) {
      throw new MemeryClientError("folder-missing", `Not a folder: ${abs}`, "Choose a folder of images.", "E_USAGE");
    }
    return this.#either(
      () => this.#indexServer(abs, onProgress, signal),
      async () => {
        const out = await this.#cli(["index", "--json", "--", abs], signal, (chunk) => {
          if (!onProgress) return;
          for (const m of chunk.matchAll(/(scanning|checking|encoding|finishing)\s+(\d+)\/(\d+)/g)) {
            const phase = ({ scanning: "scan", checking: "hash", encoding: "encode", finishing: "finish" } as const)[
              m[1] as "scanning" | "checking" | "encoding" | "finishing"
            ];
            onProgress({ phase, done: Number(m[2]), total: Number(m[3]) });
          }
        });
        const parsed = parseJson(out);
        return (Array.isArray(parsed) ? parsed[0] : parsed) as IndexSummary;
      },
    );
  }

  async #indexServer(
    folder: string,
    onProgress?: (p: IndexProgress) => void,
    signal?: AbortSignal,
  ): Promise<IndexSummary> {
    const res = await this.#request("POST", "/api/index", { folder }, signal ? { signal } : {});
    const type = String(res.headers["content-type"] ?? "");
    if (res.statusCode !== 200 || !type.includes("text/event-stream")) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      if (res.statusCode === 200 && body && typeof body === "object" && "folder" in body) return body as IndexSummary;
      throw this.#serverError({ status: res.statusCode ?? 0, body });
    }
    let buffer = "";
    for await (const chunk of res) {
      buffer += String(chunk).replace(/\r\n/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1]?.trim() ?? "message";
        const data = block
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.replace(/^data: ?/, ""))
          .join("\n");
        if (!data) continue;
        const payload = JSON.parse(data) as Record<string, unknown>;
        if (event === "progress") onProgress?.(payload as unknown as IndexProgress);
        else if (event === "done") return payload as unknown as IndexSummary;
        else if (event === "error")
          throw classifyError(payload.code as string | undefined, String(payload.message ?? "Indexing failed"));
      }
    }
    throw new MemeryClientError(
      "failed",
      "The memery server closed the index stream early",
      "Try again; run `memery status` in Terminal if it persists.",
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new MemeryClientError(
      "failed",
      `memery printed something that is not JSON: ${text.slice(0, 200)}`,
      "Update memery: this extension needs a memery with `search --json` and `memery serve`.",
    );
  }
}

function resultsOf(body: unknown): MemeResult[] {
  const list = (body as { results?: unknown } | undefined)?.results;
  if (!Array.isArray(list))
    throw new MemeryClientError(
      "failed",
      "memery answered without results",
      "Update memery: this extension needs a memery with `search --json` and `memery serve`.",
    );
  return list
    .filter((r): r is MemeResult => !!r && typeof r === "object" && typeof (r as MemeResult).path === "string")
    .map((r) => ({
      id: Number(r.id),
      path: r.path,
      score: Number(r.score),
      width: r.width ?? null,
      height: r.height ?? null,
      bytes: Number(r.bytes ?? 0),
      mtime: Number(r.mtime ?? 0),
    }));
}

function statusOf(body: unknown, via: Transport): MemeryStatus {
  const b = (body ?? {}) as Partial<MemeryStatus>;
  return {
    home: String(b.home ?? ""),
    folders: Array.isArray(b.folders) ? b.folders : [],
    counts: b.counts ?? { files: 0, failed: 0, embeddings: 0, folders: 0 },
    model: b.model ?? { name: "", id: null, dir: null },
    via,
  };
}

function readTail(file: string, bytes = 4000): string {
  try {
    const text = readFileSync(file, "utf8");
    return text.slice(-bytes);
  } catch {
    return "";
  }
}
