/**
 * Cancel and pause for the run in flight. The training loop polls `stop` and awaits `waitWhilePaused` between
 * batches; messages from the page (cancel, pause, unpause) arrive while it yields, so each takes effect after the
 * batch in flight.
 */
export class RunControl {
  stop = false;
  private pauseRequested = false;
  private wake: (() => void) | null = null;

  constructor(readonly runId: string) {}

  cancel(): void {
    this.stop = true;
    this.release();
  }

  pause(): void {
    this.pauseRequested = true;
  }

  unpause(): void {
    this.pauseRequested = false;
    this.release();
  }

  /**
   * For the trainer's `waitWhilePaused`: settles at once unless a pause was asked for; otherwise lets the trainer
   * `flush` its loss reads in flight, tells `onChange` that the run is paused, waits for unpause or cancel, and
   * tells it again that it is not.
   */
  async waitWhilePaused(onChange: (paused: boolean) => void | Promise<void>, flush?: () => Promise<void>): Promise<void> {
    if (!this.pauseRequested || this.stop) return;
    await flush?.();
    // Unpaused or cancelled while the reads in flight landed: nothing to wait for.
    if (!this.pauseRequested || this.stop) return;
    const released = new Promise<void>((resolve) => (this.wake = resolve));
    await onChange(true);
    // Unpaused or cancelled while onChange ran: `wake` was already called and `released` has settled.
    await released;
    await onChange(false);
  }

  private release(): void {
    this.wake?.();
    this.wake = null;
  }
}
