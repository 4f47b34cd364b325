/** The backend the engine's work runs on: chosen by init, or in auto mode on first need. */
import type { BackendInfo, BackendName } from '../src/engine/types';
import { selectBackend } from './backend';

export class BackendChoice {
  private info: BackendInfo | null = null;
  /** The choice in progress (see choose and current). */
  private selecting: Promise<BackendInfo> | null = null;

  /**
   * The backend work runs on. A call that comes while one is being chosen (a fresh worker's first init, sent just
   * before a Resume) waits for that choice: it neither starts a second one nor is refused as busy.
   */
  async current(): Promise<BackendInfo> {
    return this.selecting ?? this.info ?? this.choose('auto');
  }

  async choose(backend: BackendName | 'auto'): Promise<BackendInfo> {
    const selecting = selectBackend(backend).then((info) => (this.info = info));
    this.selecting = selecting;
    try {
      return await selecting;
    } finally {
      if (this.selecting === selecting) this.selecting = null;
    }
  }

  /** `to` replaces `from` (WebGL refused for the rest of the page), unless another backend was chosen meanwhile. */
  replace(from: BackendInfo, to: BackendInfo): void {
    if (this.info === from) this.info = to;
  }
}
