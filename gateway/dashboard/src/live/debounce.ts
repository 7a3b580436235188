// One debounced action: each `run` cancels the one waiting and starts the
// wait again; `fn` runs once the caller stops asking for `ms`. Timers are
// injectable for the tests. Single-threaded, like the page.

export interface TimerOptions {
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (id: unknown) => void;
}

export class Debounce {
  private timer: unknown = null;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (id: unknown) => void;

  constructor(private readonly ms: number, options: TimerOptions = {}) {
    this.setTimer = options.setTimer ?? ((fn, wait) => setTimeout(fn, wait));
    this.clearTimer = options.clearTimer ?? ((id) => clearTimeout(id as ReturnType<typeof setTimeout>));
  }

  run(fn: () => void) {
    this.cancel();
    this.timer = this.setTimer(() => {
      this.timer = null;
      fn();
    }, this.ms);
  }

  cancel() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
  }
}
