// What our two Chromium drivers share: the browser test (browser.test.mjs) and the load-time
// bench (bench-site.mjs) open the site with the same flags and bound every wait the same way.
//
// No network beyond the site: no QUIC, no background fetches, no component or sync updates.
// --headless comes from playwright's `headless: true`; the profile (user-data-dir) is the
// caller's.
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `promise`, or an error naming `what` after `ms`. */
export function bounded(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
