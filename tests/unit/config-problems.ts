import { ConfigError, readConfig } from '../../src/core/config';
import type { Zoo } from '../../src/core/models/zoo';

/** The problems readConfig finds in `value` with `zoo` (none: it was accepted). */
export function problemsOf(value: unknown, zoo: Zoo): string[] {
  try {
    readConfig(value, zoo);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}
