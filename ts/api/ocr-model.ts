/**
 * The OCR model in use: the registry entry's files from the installed npm package, checked (size and
 * sha256, once per process) before they are loaded.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { MemeryError } from '../errors.js';
import { getOcrModelEntry, ocrModelId, ocrModelIdPrefix, type OcrModelEntry } from '../models/registry.js';
import { defaultOcrModelFiles, OcrEngine, type OcrModelFiles } from '../native/ocr.js';
import type { Provider } from '../native/image-encoder.js';
import type { TextScope } from '../catalog/texts.js';

export interface OcrModel {
  entry: OcrModelEntry;
  /** Texts in the catalog are keyed by it. */
  id: string;
  files: OcrModelFiles;
}

const verified = new Map<string, Promise<void>>();

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function verifyFile(path: string, want: { size: number; sha256: string }, entry: OcrModelEntry): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  const hint = `Reinstall memery's dependencies (\`npm ci\`): ${entry.source.npm}@${entry.source.version} provides it.`;
  if (!st) throw new MemeryError('E_MODEL', `The OCR model file ${path} is missing`, { path, hint });
  if (st.size !== want.size) {
    throw new MemeryError('E_CHECKSUM', `Expected ${want.size} bytes in the OCR model file ${path} but it has ${st.size}`, { path, hint });
  }
  const got = await sha256(path);
  if (got !== want.sha256) {
    throw new MemeryError('E_CHECKSUM', `Expected sha256 ${want.sha256} for the OCR model file ${path} but it is ${got}`, { path, hint });
  }
}

/**
 * The registry's OCR model, without reading the files: its id and the prefix of all its ids, which
 * are also the scope of the texts search reads (TextScope).
 */
export function ocrModelInfo(name?: string): TextScope & { entry: OcrModelEntry } {
  const entry = getOcrModelEntry(name);
  return { entry, id: ocrModelId(entry), prefix: ocrModelIdPrefix(entry) };
}

/** Finds and checks the OCR model's files (E_MODEL when missing, E_CHECKSUM when altered). */
export async function resolveOcrModel(name?: string): Promise<OcrModel> {
  const { entry, id } = ocrModelInfo(name);
  const found = defaultOcrModelFiles();
  const files: OcrModelFiles = { detModel: found.detModel, recModel: found.recModel, dict: found.dict };
  let check = verified.get(id);
  if (!check) {
    check = Promise.all([
      verifyFile(files.detModel, entry.files.det, entry),
      verifyFile(files.recModel, entry.files.rec, entry),
      verifyFile(files.dict, entry.files.dict, entry),
    ]).then(() => undefined);
    verified.set(id, check);
    check.catch(() => verified.delete(id));
  }
  await check;
  return { entry, id, files };
}

/** Loads the OCR engine of the registry's model. */
export async function loadOcrEngine(options: { provider: Provider; threads: number }, name?: string): Promise<{ engine: OcrEngine; model: OcrModel }> {
  const model = await resolveOcrModel(name);
  const engine = await OcrEngine.load({ ...model.files, provider: options.provider, threads: options.threads });
  return { engine, model };
}
