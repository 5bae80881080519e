/** `memery tokenize [--model-dir DIR] -- TEXT...`: one JSON array of unpadded token ids per text. */
import { openMemery, writeOut, type GlobalOptions } from '../context.js';
import { UsageError } from '../errors.js';

async function stdinLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/).filter((l) => l !== '');
}

export async function runTokenize(texts: string[], _opts: unknown, g: GlobalOptions): Promise<void> {
  if (texts.length === 0) {
    if (process.stdin.isTTY) throw new UsageError('Expected TEXT to tokenize', 'Example: memery tokenize -- "a dog"');
    texts = await stdinLines();
  }
  const m = await openMemery(g);
  try {
    const lines: string[] = [];
    for (const t of texts) lines.push(JSON.stringify(await m.tokenize(t)));
    await writeOut(lines.map((l) => `${l}\n`).join(''));
  } finally {
    await m.close();
  }
}
