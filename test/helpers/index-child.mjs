// Child process for crash tests: indexes a folder in small committed chunks.
// usage: node index-child.mjs HOME MODEL_DIR FOLDER
import { Memery } from '../../dist/ts/index.js';
const [home, modelDir, folder] = process.argv.slice(2);
const m = await Memery.open({ home, modelDir, batchSize: 2 });
const s = await m.index(folder, {
  chunkSize: 4,
  onProgress: (p) => {
    if (p.phase === 'encode' && p.done > 0) process.stderr.write('chunk\n');
  },
});
await m.search('red', { n: 1 });
await m.close();
process.stdout.write(JSON.stringify(s));
