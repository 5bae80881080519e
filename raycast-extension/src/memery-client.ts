/**
 * The extension's only link to memery. It talks to `memery serve` over its Unix socket through
 * @memery/client (memery's protocol package: socket name, home rule, error codes, schemas' types,
 * the event-stream parser), starting the server detached on first use so that later queries are
 * warm; when no server can run it falls back to the `memery` CLI, always with machine output:
 * `--json`, `--progress json` and errors as JSON lines (MEMERY_ERROR_FORMAT=json).
 *
 * Processes are always started with argument arrays (never a shell), and the query only ever
 * travels as one argument or inside a JSON body: it is never part of a command string.
 * No search logic lives here: ranking, thresholds and folders are memery's.
 */
import { execFile, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  cliError,
  defaultHome,
  ENV_ERROR_FORMAT,
  mergeResults,
  readProgressLine,
  ServerClient,
  ServerError,
  ServerUnavailable,
  socketPath,
  type ErrorCode,
  type IndexProgress,
  type IndexSummary,
  type SearchModeName,
  type SearchResult,
  type Status,
} from "@memery/client/launcher";
import { childPath, expandHome, isNodeScript, locateMemery, locateNode, memeryMissingHint } from "./locate";

export type { IndexProgress, IndexSummary };

/**
 * One image of a result list (the server's and the CLI's `--json` shape): `text` is the text read
 * from the image (null: none), `match` where the query's words matched it, `thumb` the absolute path
 * of a cached JPEG thumbnail (memery versions that make them; optional here so that older ones work).
 */
export type MemeResult = SearchResult & { thumb?: string | undefined };

/** An image to search by: a catalog result (its id) or any image file (its path). */
export interface ExampleImage {
  /** Catalog file id, when the image is indexed. */
  id?: number;
  path: string;
}

/** A text query, or "more like this image". */
export type MemeQuery = { text: string } | { similarTo: ExampleImage };

export interface SearchParams {
  query: MemeQuery;
  /** Absolute folders to search; all indexed folders when empty or left out. */
  folders?: string[];
  n: number;
  /** Drop results scoring below this cosine similarity. */
  threshold?: number;
  /** How text queries rank: hybrid (memery's default), clip (pictures only) or text (words in images only). */
  mode?: SearchModeName;
  signal?: AbortSignal;
}

export type Transport = "server" | "cli";

export interface SearchOutcome {
  results: MemeResult[];
  via: Transport;
}

export type IndexedFolder = Status["folders"][number];

export interface MemeryStatus {
  home: string;
  folders: IndexedFolder[];
  counts: Status["counts"];
  model: Pick<Status["model"], "name" | "id" | "dir">;
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
    readonly code?: ErrorCode,
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

const abortError = (): MemeryClientError => new MemeryClientError("cancelled", "The request was cancelled", "");

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const MODEL_CODES: ReadonlySet<ErrorCode> = new Set(["E_MODEL", "E_DOWNLOAD", "E_CHECKSUM", "E_OFFLINE"]);

/** Turns memery's error (code, message, hint) into a reason and a fix: by its code, never its words. */
export function classifyError(code: ErrorCode | undefined, message: string, hint?: string): MemeryClientError {
  const m = message.trim();
  const kind: ErrorKind =
    code !== undefined && MODEL_CODES.has(code)
      ? "model-missing"
      : code === "E_NOT_FOUND"
        ? "folder-missing"
        : code === "E_ABORTED"
          ? "cancelled"
          : code === "E_USAGE"
            ? "bad-request"
            : "failed";
  switch (kind) {
    case "model-missing":
      return new MemeryClientError(
        kind,
        m || "The CLIP model is not available",
        hint ??
          "Download it in Terminal with `memery models download <name>` (see `memery models`), or set Model Folder in the extension preferences.",
        code,
      );
    case "folder-missing":
      return new MemeryClientError(
        kind,
        m || "Folder not found",
        hint ?? "The folder was moved or deleted: fix Image Folders in the preferences, or index the new location.",
        code,
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

/** A server's error as a reason and a fix; anything else unchanged. */
function fromServer(e: unknown): unknown {
  if (e instanceof ServerError && !(e instanceof ServerUnavailable)) return classifyError(e.code, e.message, e.hint);
  return e;
}

export class MemeryClient {
  readonly home: string;
  readonly socketPath: string;
  readonly #o: MemeryClientOptions;
  readonly #env: NodeJS.ProcessEnv;
  readonly #server: ServerClient;
  #starting: Promise<boolean> | undefined;
  /** Why the server could not be started (the CLI is used instead), and memery's code for it. */
  #serverFailure: string | undefined;
  #serverFailureCode: ErrorCode | undefined;
  #lastVia: Transport | undefined;
  /** A server answered on the socket before (re-checked when a request cannot connect). */
  #serverUp = false;

  constructor(options: MemeryClientOptions = {}) {
    this.#o = options;
    this.#env = options.env ?? process.env;
    this.home =
      options.home && options.home.trim() !== ""
        ? expandHome(options.home)
        : defaultHome({
            ...this.#env,
            ...(this.#env.MEMERY_HOME ? { MEMERY_HOME: expandHome(this.#env.MEMERY_HOME) } : {}),
          });
    this.socketPath = socketPath(this.home);
    this.#server = new ServerClient({ socketPath: this.socketPath });
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
    const probe = new ServerClient({ socketPath: this.socketPath, timeoutMs });
    try {
      return (await probe.ping()).name === "memery";
    } catch {
      return false;
    } finally {
      probe.close();
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
    // A usage error at start is the TCP port (another program holds it): the socket is all a launcher needs.
    if (this.#serverFailureCode === "E_USAGE") {
      this.#serverFailure = undefined;
      this.#serverFailureCode = undefined;
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
        const failure = exited.error
          ? { message: exited.error.message }
          : readTail(log).trim()
            ? cliError(readTail(log))
            : { message: `memery serve exited with code ${exited.code}` };
        // Another server for this home is starting (another command opened at the same time): wait for it.
        if (failure.code === "E_LOCKED") otherStarting = true;
        else {
          this.#serverFailure = failure.message;
          this.#serverFailureCode = failure.code;
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
   * Errors come back as JSON lines (MEMERY_ERROR_FORMAT=json).
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
        memeryMissingHint(memery.searched),
      );
    }
    const node = locateNode(this.#o.nodePath, { env: this.#env });
    const global = ["--home", this.home];
    if (this.#o.modelDir && this.#o.modelDir.trim() !== "") global.push("--model-dir", expandHome(this.#o.modelDir));
    else if (this.#o.model && this.#o.model.trim() !== "") global.push("--model", this.#o.model.trim());
    const env: NodeJS.ProcessEnv = {
      ...this.#env,
      PATH: childPath(node.path, { env: this.#env }),
      NO_COLOR: "1",
      [ENV_ERROR_FORMAT]: "json",
    };
    if (isNodeScript(memery.path)) {
      if (!node.path) {
        throw new MemeryClientError(
          "node-missing",
          `Node.js not found (memery at ${memery.path} needs it; looked ${this.#o.nodePath ? `at ${node.searched.join(", ")}` : "in /opt/homebrew/bin, /usr/local/bin, ~/.volta/bin, nvm and PATH"})`,
          "Install Node.js 20.19 or later (e.g. `brew install node`), or set Node Executable in the extension preferences (run `which node` in Terminal).",
        );
      }
      return { file: node.path, args: [memery.path, ...global, ...args], env };
    }
    return { file: memery.path, args: [...global, ...args], env };
  }

  /** Runs the CLI and returns its stdout; a non-zero exit becomes a MemeryClientError (from memery's JSON error). */
  async #cli(args: string[], signal?: AbortSignal, onStderrLine?: (line: string) => void): Promise<string> {
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
          const e = cliError(stderr || error.message);
          reject(classifyError(e.code, e.message, e.hint));
        },
      );
      if (onStderrLine) {
        let buf = "";
        child.stderr?.on("data", (d: Buffer | string) => {
          buf += String(d);
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            onStderrLine(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
          }
        });
      }
    });
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
        if (!(e instanceof ServerUnavailable)) throw fromServer(e);
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
    // An indexed image by its catalog id; any other file by its path (the socket accepts paths).
    const query =
      "text" in p.query
        ? { text: p.query.text }
        : { image: p.query.similarTo.id !== undefined ? `id:${p.query.similarTo.id}` : p.query.similarTo.path };
    const mode = textMode(p);
    const answer = await this.#server.searchTimed(query, {
      n: p.n,
      ...(mode ? { mode } : {}),
      ...(p.threshold !== undefined ? { threshold: p.threshold } : {}),
      ...(p.folders && p.folders.length > 0 ? { folders: p.folders } : {}),
      ...(p.signal ? { signal: p.signal } : {}),
    });
    return resultsOf(answer);
  }

  async #searchCli(p: SearchParams): Promise<MemeResult[]> {
    let folders = p.folders ?? [];
    if (folders.length === 0) folders = (await this.#statusCli(p.signal)).folders.map((f) => f.path);
    // Of several folders, search those still there (one gone must not hide the others' results).
    if (folders.length > 1) {
      const present = folders.filter((f) => existsSync(f));
      folders = present.length > 0 ? present : folders.slice(0, 1);
    }
    const runs: MemeResult[][] = [];
    for (const folder of folders) {
      const args = ["search", "--json", `--limit=${p.n}`];
      if (p.threshold !== undefined) args.push(`--threshold=${p.threshold}`);
      const mode = textMode(p);
      if (mode) args.push(`--mode=${mode}`);
      if ("similarTo" in p.query) args.push(`--image=${p.query.similarTo.path}`);
      // `--` ends the options: a query starting with "-" stays a query.
      args.push("--", folder);
      if ("text" in p.query) args.push(p.query.text);
      runs.push(resultsOf(parseJson(await this.#cli(args, p.signal))));
    }
    // Several folders, one CLI run each: memery's scores, best first across them.
    return runs.length === 1 ? runs[0]! : mergeResults(runs, p.n);
  }

  /** Folders, counts and model of the catalog. */
  async status(signal?: AbortSignal): Promise<MemeryStatus> {
    return this.#either(
      async () => statusOf(await this.#server.status(signal ? { signal } : {}), "server"),
      () => this.#statusCli(signal),
    );
  }

  async #statusCli(signal?: AbortSignal): Promise<MemeryStatus> {
    return statusOf(parseJson(await this.#cli(["status", "--json"], signal)), "cli");
  }

  /** Indexes what changed under `folder`, reporting progress (server-sent events, or the CLI's JSON lines). */
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
    const progress = (p: IndexProgress) => onProgress?.({ phase: p.phase, done: p.done, total: p.total });
    return this.#either(
      () => this.#server.index(abs, progress, signal ? { signal } : {}),
      async () => {
        let summary: IndexSummary | undefined;
        await this.#cli(["index", "--progress", "json", "--", abs], signal, (text) => {
          const line = readProgressLine(text);
          if (line && "progress" in line) progress(line.progress);
          else if (line) summary = line.summary;
        });
        if (!summary) {
          throw new MemeryClientError(
            "failed",
            "memery index ended without a summary",
            "Update memery: this extension needs a memery with `index --progress json`.",
          );
        }
        return summary;
      },
    );
  }
}

/** The mode to ask for: only for text queries, and only when not memery's default (older servers know no `mode`). */
function textMode(p: SearchParams): SearchModeName | undefined {
  return "text" in p.query && p.mode && p.mode !== "hybrid" ? p.mode : undefined;
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
      text: typeof r.text === "string" && r.text !== "" ? r.text : null,
      match: r.match && Array.isArray(r.match.spans) ? r.match : null,
      ...(typeof r.thumb === "string" && r.thumb !== "" ? { thumb: r.thumb } : {}),
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
