import { describe, expect, it } from 'vitest';
import { CONFERENCE_DEFAULTS, conferenceSettings, demoRecipe } from '../../src/ui/conference';

describe('conferenceSettings', () => {
  it('is off unless the URL asks for it', () => {
    expect(conferenceSettings('?backend=webgpu')).toBeNull();
    expect(conferenceSettings('?conference')).toEqual(CONFERENCE_DEFAULTS);
  });

  it('takes valid settings from the URL and ignores the rest', () => {
    expect(conferenceSettings('?conference&epochs=2&size=16&reset=5&per-class=20')).toEqual({ epochs: 2, imageSize: 16, perClass: 20, resetSeconds: 5 });
    expect(conferenceSettings('?conference&epochs=0&size=abc&reset=1.5')).toEqual(CONFERENCE_DEFAULTS);
  });

  it('trains the stand’s settings on clear-lesion phantoms, every epoch it promised', () => {
    const cfg = demoRecipe({ ...CONFERENCE_DEFAULTS, epochs: 3, imageSize: 24, perClass: 40 }, 9);
    expect(cfg).toMatchObject({ model: 'simple_cnn', strategy: 'scratch', epochs: 3, seed: 9, earlyStopping: null });
    expect(cfg.dataset).toEqual({ kind: 'demo', seed: 9, imageSize: 24, perClass: 40, split: { train: 0.7, val: 0.15, test: 0.15 }, lesions: 'clear' });
  });
});
