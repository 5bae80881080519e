/**
 * The `memery` command: parses the command line (commander), dispatches to one small module per
 * command (imported only when that command runs, so a cold start loads little), and maps errors to
 * exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted.
 */
import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError, Option } from 'commander';
import { parseLimit, parsePort, parseSize, parseThreads, parseThreshold } from './args.js';
import { setColorMode, useColor, type ColorMode, type GlobalOptions } from './context.js';
import { EXIT_OK, EXIT_USAGE, UsageError, exitCodeFor, printError, printErrorJson } from './errors.js';
import { ENV_ERROR_FORMAT } from '@memery/client/protocol';

/**
 * Errors are printed as one JSON line (the server's error body) when the command was asked for
 * machine output (--json, --progress json, --format json|alfred) or MEMERY_ERROR_FORMAT=json:
 * launchers read them instead of the human text.
 */
let machineErrors = process.env[ENV_ERROR_FORMAT] === 'json';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function examples(lines: Array<[string, string]>): string {
  const w = Math.max(...lines.map(([c]) => c.length));
  return `\nExamples:\n${lines.map(([c, d]) => `  $ ${c.padEnd(w)}  # ${d}`).join('\n')}\n`;
}

const GLOBAL_KEYS = ['home', 'model', 'modelDir', 'provider', 'threads', 'debug', 'color'] as const;

/** --exclude GLOB, repeatable. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * The configuration section of --help, generated from the config schema. Its modules are loaded
 * only when help is asked for (main() preloads them), so other commands start without them.
 */
let configHelpText: (() => string) | undefined;
async function preloadConfigHelp(): Promise<void> {
  const { configHelp } = await import('./config-help.js');
  configHelpText = configHelp;
}

function globalsOf(cmd: Command): GlobalOptions {
  const all = cmd.optsWithGlobals() as Record<string, unknown>;
  const g: Record<string, unknown> = {};
  for (const k of GLOBAL_KEYS) if (all[k] !== undefined) g[k] = all[k];
  return g as GlobalOptions;
}

export function buildProgram(): Command {
  const program = new Command('memery');
  program
    .description('Search local image folders by meaning: "a dog on a beach", an example image, or both.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (every command has examples)')
    .option('--home <dir>', 'memery home: catalog, thumbnails, config (default: $MEMERY_HOME or the platform data folder)')
    .option('--model <name>', 'registry model to use (see `memery models`)')
    .option('--model-dir <dir>', 'a local CLIP model folder (OpenCLIP or Hugging Face ONNX layout); wins over --model')
    .addOption(new Option('--provider <provider>', 'ONNX Runtime execution provider').choices(['cpu', 'cuda', 'auto']))
    .option('--threads <n>', 'inference threads (0 = one per core)', parseThreads)
    .option('--debug', 'show stack traces for errors')
    .addOption(
      new Option('--color <when>', 'colour: auto (a terminal, unless NO_COLOR; FORCE_COLOR turns it on in a pipe), always or never')
        .choices(['auto', 'always', 'never'])
        .default('auto'),
    )
    .exitOverride()
    .showHelpAfterError('(run with --help for usage and examples)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      outputError: (str, write) =>
        machineErrors
          ? write(`${JSON.stringify({ error: { code: 'E_USAGE', message: str.replace(/^error: /, '').split('\n')[0]!.trim() } })}\n`)
          : write(`memery: ${str.replace(/^error: /, 'error: ')}`),
    })
    .hook('preAction', async (_program, action) => {
      const o = action.opts() as { json?: boolean; progress?: string; format?: string };
      if (o.json || o.progress === 'json' || o.format === 'json' || o.format === 'alfred') machineErrors = true;
      const g = action.optsWithGlobals() as GlobalOptions;
      setColorMode(g.color);
      // An unknown --model is a usage error, named with the known ones (before anything loads).
      if (g.model !== undefined) {
        const { MODEL_REGISTRY } = await import('../models/registry.js');
        if (!MODEL_REGISTRY.some((e) => e.name === g.model)) {
          throw new UsageError(
            `Expected a known model for --model but received "${g.model}"`,
            `Known models: ${MODEL_REGISTRY.map((e) => e.name).join(', ')}. For a model folder you have, use --model-dir.`,
          );
        }
      }
    })
    .addHelpText(
      'after',
      examples([
        ['memery index ~/Pictures/memes', 'index a folder (only what changed)'],
        ['memery search ~/Pictures/memes "a cat in a box"', 'search it'],
        ['memery search "dad joke"', 'search every indexed folder'],
        ['memery search ~/Pictures --image cat.jpg -n 5', 'images like cat.jpg'],
        ['memery search ~/Pictures dog -0 | xargs -0 open', 'pipe the results'],
        ['memery status', 'what is indexed, which model'],
      ]),
    )
    .addHelpText('after', () => configHelpText?.() ?? '\nConfiguration and environment: `memery --help` lists them, `memery config` shows them.\n');

  program
    .command('index')
    .description('index images under FOLDER(s): only new or changed files are encoded')
    .argument('<folders...>', 'folders to index')
    .option('--json', 'print the summary as JSON on stdout (an array for several folders)')
    .option('--no-ocr', 'do not read the text in images (default: config ocr, on)')
    .option('--exclude <glob>', 'leave out files and folders this gitignore-style pattern matches (repeatable; besides .memeryignore)', collect)
    .addOption(new Option('--progress <format>', 'progress on stderr: text (a bar or lines) or json (one JSON object a line, then a summary per folder)').choices(['text', 'json']))
    .addHelpText(
      'after',
      examples([
        ['memery index ~/Pictures/memes', 'progress and summary on stderr'],
        ['memery index ~/Pictures ~/Downloads', 'several folders'],
        ['memery index ~/Pictures --json | jq .failed', 'the summary as JSON'],
        ['memery index ~/Pictures --progress json', 'progress as JSON lines on stderr (for launchers)'],
        ['memery index ~/Pictures --no-ocr', 'images only, without reading their text'],
        ['memery index ~/Pictures --exclude "*.gif" --exclude drafts/', 'leave out GIFs and drafts folders'],
      ]) +
        '\nA .memeryignore file (gitignore syntax) in the folder or any subfolder lists what to leave out; so do\n' +
        '--exclude and the config key exclude. Files left out that are in the catalog are removed from it.\n' +
        '\nThe text in each image is read (OCR) after it is encoded, once per content; --no-ocr skips it.\nFiles that cannot be decoded are listed on stderr ("path: reason"); they do not fail the run.\nCtrl-C stops after the current batch and keeps what was indexed.\n',
    )
    .action(async (folders: string[], opts: { json?: boolean; progress?: 'text' | 'json'; ocr?: boolean; exclude?: string[] }, cmd: Command) => {
      const { runIndex } = await import('./commands/index.js');
      await runIndex(folders, opts, globalsOf(cmd));
    });

  program
    .command('search')
    .alias('recall')
    .description('search FOLDER, or every indexed folder, with a text query and/or an example image (indexes what changed in FOLDER first)')
    .argument('[folder]', 'folder to search (indexed first unless --no-index); left out: every indexed folder (see below)')
    .argument('[query...]', 'text query (several words are joined)')
    .option('--image <file>', 'an example image: find images like it')
    .option('--not <text>', 'a text to steer away from')
    .option('--not-image <file>', 'an image to steer away from')
    .option('-n, --limit <n>', 'number of results (default 20)', parseLimit)
    .option('--threshold <score>', 'drop results scoring below this cosine similarity (-1 to 1)', parseThreshold)
    .option('--no-index', 'search the catalog as it is, without indexing first')
    .option('--exclude <glob>', 'leave out what this gitignore-style pattern matches, when indexing and in the results (repeatable)', collect)
    .addOption(
      new Option('--mode <mode>', 'hybrid: images whose text matches the words first, then by look (default); clip: by look only; text: by their text only').choices([
        'hybrid',
        'clip',
        'text',
      ]),
    )
    .option('--no-ocr', 'when indexing first, do not read the text in images')
    .option('--json', 'JSON: { query, results: [{ path, score, width, height, bytes, mtime, id, text, match }] }')
    .option('--paths', 'absolute paths, one a line (the default when stdout is not a terminal)')
    .option('-0, --null', 'absolute paths separated by NUL bytes (for xargs -0)')
    .addOption(new Option('--format <format>', 'output format (table is the default in a terminal)').choices(['table', 'json', 'paths', 'nul', 'alfred']))
    .addHelpText(
      'after',
      examples([
        ['memery search ~/Pictures "a dog on a beach"', 'a table in a terminal'],
        ['memery search "dad joke"', 'every indexed folder, as indexed'],
        ['memery search ~/Pictures --image dog.jpg --not "snow"', 'like dog.jpg, without snow'],
        ['memery search ~/Pictures dog -n 5 --json', 'JSON for scripts'],
        ['memery search ~/Pictures dog -0 | xargs -0 ls -l', 'NUL-separated paths'],
        ['memery search ~/Pictures "{query}" --format alfred', 'an Alfred Script Filter'],
        ['memery search ~/memes "mom making food" --mode text', 'only memes whose text says it'],
        ['memery recall ~/Pictures "birthday cake" -n 20', 'the original command name'],
        ['memery search ~/Pictures -- --help', 'a query that starts with "-" goes after --'],
        ['memery search ~/Pictures cat --exclude drafts/', 'leave out the drafts folders'],
      ]) +
        '\nThe folder rule: the first word is FOLDER when it is an existing folder or reads as a path (starts with\n' +
        '/, ~, ./ or ../, or ends with /); otherwise every word is the query and every indexed folder is searched\n' +
        'as it is, without indexing first. So `memery search ~/Pictures dog` searches ~/Pictures (indexing it\n' +
        'first) and `memery search "dad joke"` searches everything; give a path (./memes) for a folder named\n' +
        'like a word.\n' +
        '\nA query word that starts with "-" (such as --help or -n) is read as an option unless it follows --.\n' +
        'Paths are printed one a line, so a file name containing a newline spans two lines: use -0 or --json\n' +
        'when names may contain newlines.\n',
    )
    .action(async (first: string | undefined, rest: string[], opts: Record<string, unknown>, cmd: Command) => {
      const { runSearch, splitFolderAndQuery } = await import('./commands/search.js');
      const { folder, text } = await splitFolderAndQuery(first, rest);
      await runSearch(folder, text, opts, globalsOf(cmd));
    });

  program
    .command('ocr')
    .description('print the text in each image FILE (OCR; the model comes with memery)')
    .argument('<files...>', 'images')
    .option('--json', 'JSON: { path, text, lines: [{ text, confidence, box }], width, height } (an array for several files)')
    .addHelpText(
      'after',
      examples([
        ['memery ocr meme.jpg', 'the text, one line per line read'],
        ['memery ocr meme.jpg --json', 'with each line\'s box (corners clockwise from top-left) and confidence'],
      ]),
    )
    .action(async (files: string[], opts: { json?: boolean }, cmd: Command) => {
      const { runOcr } = await import('./commands/ocr.js');
      await runOcr(files, opts, globalsOf(cmd));
    });

  const models = program
    .command('models')
    .description('list, download, verify or remove models')
    .addHelpText(
      'after',
      examples([
        ['memery models', 'list known and installed models (* = in use)'],
        ['memery models download clip-vit-base-patch32', 'download a model'],
        ['memery models verify', 'check the checksums of installed models'],
        ['memery models remove clip-vit-base-patch32', 'delete an installed model'],
      ]),
    );
  models
    .command('list', { isDefault: true })
    .description('list known and installed models')
    .option('--json', 'print JSON')
    .addHelpText('after', examples([['memery models list --json', 'for scripts']]))
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { runModelsList } = await import('./commands/models.js');
      await runModelsList(opts, globalsOf(cmd));
    });
  models
    .command('download')
    .description('download a registry model (resumable, checksummed)')
    .argument('[name]', 'model name (see `memery models list`; default: the model in use, from --model, MEMERY_MODEL or config.json, else the default model)')
    .option('--dry-run', 'say which model and files would be downloaded, and where, without downloading')
    .option('--json', 'print JSON (with --dry-run: the plan)')
    .addHelpText(
      'after',
      examples([
        ['memery models download', 'the model in use (the default model unless configured)'],
        ['memery models download ViT-B-32__laion2b-s34b-b79k', 'the default model'],
        ['memery models download --dry-run', 'which model, which files, where'],
      ]),
    )
    .action(async (name: string | undefined, opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const { runModelsDownload } = await import('./commands/models.js');
      await runModelsDownload(name, opts, globalsOf(cmd));
    });
  models
    .command('verify')
    .description('re-hash installed model files against the checksums of the model registry and the Hub')
    .argument('[name]', 'model name (default: every installed model)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples([['memery models verify', 'all installed models'], ['memery models verify clip-vit-base-patch32', 'one model']]))
    .action(async (name: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const { runModelsVerify } = await import('./commands/models.js');
      await runModelsVerify(name, opts, globalsOf(cmd));
    });
  models
    .command('remove')
    .description('delete an installed model')
    .argument('<name>', 'model name')
    .addHelpText('after', examples([['memery models remove clip-vit-base-patch32', 'free the disk space']]))
    .action(async (name: string, opts: unknown, cmd: Command) => {
      const { runModelsRemove } = await import('./commands/models.js');
      await runModelsRemove(name, opts, globalsOf(cmd));
    });

  program
    .command('config')
    .description('the configuration in effect and where each value came from (default, config.json, environment, command line)')
    .option('--json', 'print JSON: { home, file, config, sources, env }')
    .option('--schema', "print config.json's JSON Schema")
    .addHelpText(
      'after',
      examples([
        ['memery config', 'every key, its value and its source'],
        ['MEMERY_BATCH_SIZE=4 memery config --json | jq .sources', 'where each value came from'],
        ['memery config --schema > memery-config.schema.json', 'for editors that validate config.json'],
      ]) + '\n`memery --help` lists every key and its environment variable.\n',
    )
    .action(async (opts: { json?: boolean; schema?: boolean }, cmd: Command) => {
      const { runConfig } = await import('./commands/config.js');
      await runConfig(opts, globalsOf(cmd));
    });

  program
    .command('status')
    .description('catalog, folders, counts, model, index health, and whether a server is running')
    .option('--json', 'print JSON')
    .addHelpText('after', examples([['memery status', 'a summary'], ['memery status --json | jq .counts', 'for scripts']]))
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { runStatus } = await import('./commands/status.js');
      await runStatus(opts, globalsOf(cmd));
    });

  program
    .command('forget')
    .description('remove a folder and its files from the catalog (the images stay on disk)')
    .argument('<folder>', 'an indexed folder (see `memery status`)')
    .addHelpText('after', examples([['memery forget ~/Downloads', 'stop searching ~/Downloads']]))
    .action(async (folder: string, opts: unknown, cmd: Command) => {
      const { runForget } = await import('./commands/forget.js');
      await runForget(folder, opts, globalsOf(cmd));
    });

  program
    .command('doctor')
    .description('check the catalog, its vectors, the index files and the permissions of the home; --repair fixes what it can')
    .option('--repair', 'fix what can be fixed (recover a damaged catalog, delete damaged vectors, rebuild index files, tighten permissions)')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      examples([
        ['memery doctor', 'check; exit 1 when something is wrong'],
        ['memery doctor --repair', 'fix it (a damaged catalog is kept as catalog.db.damaged-<time>)'],
      ]),
    )
    .action(async (opts: { repair?: boolean; json?: boolean }, cmd: Command) => {
      const { runDoctor } = await import('./commands/doctor.js');
      await runDoctor(opts, globalsOf(cmd));
    });

  program
    .command('tokenize')
    .description("print the model tokenizer's ids for each TEXT (one JSON array a line, unpadded)")
    .argument('[texts...]', 'texts (put them after --; read from stdin, one a line, when none)')
    .addHelpText(
      'after',
      examples([
        ['memery tokenize -- "a dog"', '[49406,320,1929,49407]'],
        ['memery tokenize --model-dir ./clip -- "one" "two"', 'one line per text'],
      ]),
    )
    .action(async (texts: string[], opts: unknown, cmd: Command) => {
      const { runTokenize } = await import('./commands/tokenize.js');
      await runTokenize(texts, opts, globalsOf(cmd));
    });

  program
    .command('preprocess')
    .description("write the model's RGB input crop of FILE (before normalisation) as an image")
    .argument('<file>', 'an image')
    .requiredOption('-o, --output <file>', 'where to write the crop (.png)')
    .option('--size <s>', "crop size (default: the model's, else 224)", parseSize)
    .addHelpText(
      'after',
      examples([
        ['memery preprocess cat.jpg -o cat-224.png', '224x224 crop'],
        ['memery preprocess cat.jpg -o crop.png --model-dir ./clip', "the model's input size"],
      ]),
    )
    .action(async (file: string, opts: { output: string; size?: number }, cmd: Command) => {
      const { runPreprocess } = await import('./commands/preprocess.js');
      await runPreprocess(file, opts, globalsOf(cmd));
    });

  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      examples([
        ['eval "$(memery completion bash)"', 'bash (add to ~/.bashrc)'],
        ['memery completion zsh > "${fpath[1]}/_memery"', 'zsh'],
        ['memery completion fish > ~/.config/fish/completions/memery.fish', 'fish'],
      ]),
    )
    .action(async (shell: string) => {
      const { runCompletion } = await import('./commands/completion.js');
      await runCompletion(shell, program);
    });

  program
    .command('serve')
    .description('run the local memery server until Ctrl-C (searches then skip loading the model)')
    .option('--port <n>', 'TCP port (default: config port, 7627; 0 picks a free one)', parsePort)
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--allow-remote', 'allow a non-loopback --host (every request then needs the token)')
    .option('--watch', 'watch the indexed folders and index changes (default: config watch)')
    .option('--no-watch', 'do not watch folders')
    .option('--open', 'open the web page in the default browser')
    .addHelpText(
      'after',
      examples([
        ['memery serve', 'serve on 127.0.0.1:7627 and <home>/memery.sock'],
        ['memery serve --port 8080 --watch --open', 'another port, re-index on changes, open the page'],
      ]),
    )
    .action(async (opts: { port?: number; host?: string; allowRemote?: boolean; watch?: boolean; open?: boolean }, cmd: Command) => {
      const { runServe } = await import('./commands/serve.js');
      await runServe(opts, globalsOf(cmd));
    });

  return program;
}

/** Runs the command line; resolves with the exit code (errors are printed here). */
export async function main(argv: string[] = process.argv): Promise<number> {
  const args = argv.slice(2);
  if (args.length === 0 || args.includes('-h') || args.includes('--help') || args[0] === 'help') await preloadConfigHelp();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    const debug = argv.includes('--debug') || (program.opts() as GlobalOptions).debug === true;
    setColorMode((program.opts() as { color?: ColorMode }).color);
    if (machineErrors) printErrorJson(err, process.stderr);
    else printError(err, process.stderr, { debug, color: useColor(process.stderr) });
    return exitCodeFor(err);
  }
}

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0); // e.g. `memery search ... | head -1`
  throw e;
});

main().then(
  async (code) => {
    // Flush stdout, then exit without waiting for native thread pools or keep-alive sockets.
    await new Promise<void>((r) => process.stdout.write('', () => r()));
    process.exit(code);
  },
  (err: unknown) => {
    printError(err, process.stderr, { debug: true });
    process.exit(1);
  },
);
