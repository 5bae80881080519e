#!/usr/bin/env node
import('../dist/ts/cli/main.js').catch((err) => {
  process.stderr.write(`memery: cannot start: ${err && err.message ? err.message : err}\nhint: build it with \`npm run build\`\n`);
  process.exit(1);
});
