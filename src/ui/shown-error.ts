/**
 * How the panels show an engine error. Its own module so that the panel states (runs, evaluation, inference,
 * registry) can use it without importing `studio.svelte.ts`, which imports them.
 */
import { EngineError } from '../engine/errors';

/** What the user sees of an error: a sentence to act on, plus the technical detail behind a disclosure. */
export interface ShownError {
  code: string;
  message: string;
  detail?: string;
}

export function describeError(err: unknown): ShownError {
  if (err instanceof EngineError) return { code: err.code, message: err.message, detail: err.detail };
  return { code: 'E_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

/**
 * One engine call of a panel that shows it running, with progress: running while it goes, earlier progress and error
 * cleared at the start, its error shown (and rethrown), progress cleared at the end.
 */
export async function tracked<T>(state: { running: boolean; progress: unknown; error: ShownError | null }, work: () => Promise<T>): Promise<T> {
  state.running = true;
  state.error = null;
  state.progress = null;
  try {
    return await work();
  } catch (err) {
    state.error = describeError(err);
    throw err;
  } finally {
    state.running = false;
    state.progress = null;
  }
}
