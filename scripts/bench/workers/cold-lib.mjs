// Worker: the library's cold query path in a fresh process (the fallback when the CLI is not
// usable): Memery.open + search, results as JSON on stdout, like `memery search --json`.
//   argv[2]: { home, modelDir, folder, query }
import { lib } from '../lib.mjs';

const cfg = JSON.parse(process.argv[2]);
const { Memery } = await lib();
const m = await Memery.open({ home: cfg.home, modelDir: cfg.modelDir });
const results = await m.search(cfg.query, { folders: [cfg.folder], n: 20 });
await m.close();
process.stdout.write(JSON.stringify({ query: cfg.query, results }) + '\n');
