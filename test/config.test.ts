import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Memery, isMemeryError, loadConfig } from '../ts/index.js';
import { configKeys, envName, loadConfigWithSources } from '../ts/config/load.js';
import { tempDir } from './helpers/images.js';

describe('config', () => {
  it('defaults, then config.json, then environment, then options', () => {
    const home = tempDir();
    expect(loadConfig(home, {}, {})).toMatchObject({ provider: 'cpu', batchSize: 16, indexType: 'flat', port: 7627 });
    writeFileSync(join(home, 'config.json'), JSON.stringify({ batchSize: 8, threads: 2 }));
    expect(loadConfig(home, {}, {})).toMatchObject({ batchSize: 8, threads: 2 });
    expect(loadConfig(home, {}, { MEMERY_BATCH_SIZE: '4' })).toMatchObject({ batchSize: 4, threads: 2 });
    expect(loadConfig(home, { batchSize: 2 }, { MEMERY_BATCH_SIZE: '4' })).toMatchObject({ batchSize: 2 });
  });

  it('every key has an environment variable, converted by its type; sources say where each value came from', () => {
    expect(configKeys().map((k) => k.env)).toContain('MEMERY_HF_ENDPOINT');
    expect(envName('maxFileBytes')).toBe('MEMERY_MAX_FILE_BYTES');
    const home = tempDir();
    const env = { MEMERY_OCR: 'off', MEMERY_WATCH: '1', MEMERY_FOLDERS: '/a:/b', MEMERY_EXCLUDE: '["*.gif","drafts/"]', MEMERY_LOCK_TIMEOUT: '2.5' };
    expect(loadConfig(home, {}, env)).toMatchObject({ ocr: false, watch: true, folders: ['/a', '/b'], exclude: ['*.gif', 'drafts/'], lockTimeout: 2.5 });
    expect(() => loadConfig(home, {}, { MEMERY_WATCH: 'maybe' })).toThrow(/MEMERY_WATCH/);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ batchSize: 8 }));
    const { sources, config } = loadConfigWithSources(home, { threads: 3 }, { MEMERY_OCR: '0' });
    expect(config).toMatchObject({ batchSize: 8, threads: 3, ocr: false });
    expect(sources).toMatchObject({ batchSize: 'config.json', threads: 'command line', ocr: 'environment', port: 'default' });
  });

  it('errors name the bad key', () => {
    const home = tempDir();
    writeFileSync(join(home, 'config.json'), JSON.stringify({ batchSize: 'big' }));
    expect(() => loadConfig(home, {}, {})).toThrow(/batchSize/);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ batchSzie: 3 }));
    expect(() => loadConfig(home, {}, {})).toThrow(/unknown key "batchSzie"/);
    writeFileSync(join(home, 'config.json'), '{ not json');
    expect(() => loadConfig(home, {}, {})).toThrow(/Cannot parse .*config\.json/);
    writeFileSync(join(home, 'config.json'), '{}');
    expect(() => loadConfig(home, {}, { MEMERY_THREADS: 'many' })).toThrow(/MEMERY_THREADS/);
    try {
      loadConfig(home, {}, { MEMERY_PROVIDER: 'tpu' });
    } catch (e) {
      expect(isMemeryError(e, 'E_CONFIG')).toBe(true);
      expect((e as Error).message).toMatch(/MEMERY_PROVIDER/);
    }
  });

  it('Memery.open validates its options', async () => {
    await expect(Memery.open({ home: tempDir(), batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(Memery.open({ home: tempDir(), nonsense: 1 } as never)).rejects.toThrow(/nonsense/);
  });

  it('a model folder that is not a model is a clear E_MODEL error naming it', async () => {
    const home = tempDir();
    const notModel = tempDir('not-a-model-');
    const m = await Memery.open({ home, modelDir: notModel });
    await expect(m.search('red')).rejects.toSatisfy((e: unknown) => isMemeryError(e, 'E_MODEL') && (e as Error).message.includes(notModel));
    await m.close();
  });
});
