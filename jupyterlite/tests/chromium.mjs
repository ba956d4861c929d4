// How our scripts start Chromium: the browser test (browser.test.mjs) and the load-time bench
// (bench-site.mjs) open the site with the same flags.
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
