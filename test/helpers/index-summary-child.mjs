// Indexes one folder and prints the summary as JSON (used to index as another, unprivileged user).
// usage: node index-summary-child.mjs HOME MODEL_DIR FOLDER
import { Memery } from '../../dist/ts/index.js';
const [home, modelDir, folder] = process.argv.slice(2);
const m = await Memery.open({ home, modelDir });
const s = await m.index(folder);
await m.close();
process.stdout.write(JSON.stringify(s));
