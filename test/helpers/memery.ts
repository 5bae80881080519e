import { rmSync } from 'node:fs';
import { Memery } from '../../ts/index.js';
import { tempDir } from './images.js';
import { testModel } from './shared.js';

export const COLOUR_HF = testModel('colour-hf');
export const COLOUR_OPENCLIP = testModel('colour-openclip');

/** A Memery on a fresh temp home with the colour-CLIP test model. */
export async function openTemp(modelDir = COLOUR_HF): Promise<{ m: Memery; home: string; cleanup: () => Promise<void> }> {
  const home = tempDir('memery-home-');
  const m = await Memery.open({ home, modelDir });
  return {
    m,
    home,
    cleanup: async () => {
      await m.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
