import { describe, expect, it } from 'vitest';
import { nextStep, parseRoute, routeHref, routeTitle, STEPS } from '../../src/ui/route.svelte';

describe('hash routes', () => {
  it('reads the step or page a hash names, with or without the slash', () => {
    expect(parseRoute('#/model')).toBe('model');
    expect(parseRoute('#train')).toBe('train');
    expect(parseRoute('#/settings')).toBe('settings');
    expect(parseRoute('#/evaluate/extra')).toBe('evaluate');
  });

  it('opens the first step for an empty or unknown hash', () => {
    expect(parseRoute('')).toBe('data');
    expect(parseRoute('#/nowhere')).toBe('data');
  });

  it('round-trips every step through its href', () => {
    for (const s of STEPS) expect(parseRoute(routeHref(s.id))).toBe(s.id);
  });

  it('numbers the steps in the tab title and leads each to the next', () => {
    expect(routeTitle('model')).toBe('2. Model · MRI Studio');
    expect(routeTitle('runs')).toBe('Runs · MRI Studio');
    expect(nextStep('data')?.id).toBe('model');
    expect(nextStep('use')).toBeNull();
    expect(nextStep('storage')).toBeNull();
  });
});
