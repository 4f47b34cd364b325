import { describe, expect, it } from 'vitest';
import { CONFERENCE_DEFAULTS, conferenceSettings } from '../../src/ui/conference';

describe('conferenceSettings', () => {
  it('is off unless the URL asks for it', () => {
    expect(conferenceSettings('?backend=webgpu')).toBeNull();
    expect(conferenceSettings('?conference')).toEqual(CONFERENCE_DEFAULTS);
  });

  it('takes valid settings from the URL and ignores the rest', () => {
    expect(conferenceSettings('?conference&epochs=2&size=16&reset=5&per-class=20')).toEqual({ epochs: 2, imageSize: 16, perClass: 20, resetSeconds: 5 });
    expect(conferenceSettings('?conference&epochs=0&size=abc&reset=1.5')).toEqual(CONFERENCE_DEFAULTS);
  });
});
