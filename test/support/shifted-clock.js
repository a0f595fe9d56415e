/**
 * The suite must pass on any date. With OMNITHREAD_TEST_SHIFT_DAYS=N (CI runs the suite once more with a
 * shift), every jest worker's wall clock (Date and Date.now) is moved N days: a test that reads the day it
 * runs on instead of injecting a clock fails there. Timers and performance.now are untouched.
 */
const days = Number(process.env.OMNITHREAD_TEST_SHIFT_DAYS || 0);
if (days) {
  const offset = days * 24 * 60 * 60 * 1000;
  const SystemDate = Date;
  class ShiftedDate extends SystemDate {
    constructor(...args) {
      if (args.length === 0) super(SystemDate.now() + offset);
      else super(...args);
    }
    static now() {
      return SystemDate.now() + offset;
    }
  }
  globalThis.Date = ShiftedDate;
}
