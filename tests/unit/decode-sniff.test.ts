import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sniffImageType } from '../../workers/decode';
import { largePng } from '../fixtures/png';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/bad-inputs/${name}`, import.meta.url)));

describe('sniffImageType', () => {
  it.each([
    ['bilevel-1bit.png', 'png'],
    ['cmyk.jpg', 'jpeg'],
    // Truncated, but its magic number is intact: it is a JPEG that fails to decode, not "not an image".
    ['corrupt.jpg', 'jpeg'],
    ['grey-16bit.png', 'png'],
    ['grey.jpg', 'jpeg'],
    ['palette.png', 'png'],
    ['red-blue.bmp', 'bmp'],
    ['red-blue.webp', 'webp'],
    ['rgba-transparent.png', 'png'],
    ['two-frames.gif', 'gif'],
    ['empty.jpg', null],
    ['text-as-jpg.jpg', null],
  ] as const)('%s → %s', (name, expected) => {
    expect(sniffImageType(fixture(name))).toBe(expected);
  });

  it('recognises the generated large PNG', () => {
    expect(sniffImageType(largePng(4, 4))).toBe('png');
  });

  it('does not take text that happens to start with "BM" for a bitmap', () => {
    expect(sniffImageType(new TextEncoder().encode('BMI report for patient 12, scan attached'))).toBeNull();
  });

  it('needs the whole signature, not just its first bytes', () => {
    expect(sniffImageType(fixture('grey.jpg').subarray(0, 2))).toBeNull();
    expect(sniffImageType(new TextEncoder().encode('RIFF\0\0\0\0WAVEfmt '))).toBeNull();
  });
});
