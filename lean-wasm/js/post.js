// xlean --post-js. Runs inside the module factory, after the runtime's JS is defined and before
// the wasm module is instantiated (instantiation is asynchronous), so before any call into it.
//
// The BigInt table-index fix for emscripten 3.1.69.
// REMOVE THIS FILE'S FIX when the emscripten pin (pins.toml) moves past 3.1.69: it was fixed
// upstream in 3.1.70 (emscripten PR #22773).
//
// With -sMEMORY64, clang 19 emits a 64-bit table as well as a 64-bit memory, whose JS API takes
// BigInt indices. emscripten 3.1.69 decides between BigInt and Number once, in the runtime's
// `toIndexType`, by probing `new WebAssembly.Memory({initial: 1n, index: 'i64'})`. Current
// engines (Node 24, Chromium 156) name that descriptor key `address`: they ignore `index`,
// reject the BigInt, and the probe answers "Number". The first indirect call from JS (every
// embind call) then fails: `TypeError: Cannot convert 27 to a BigInt at getWasmTableEntry`.
//
// Our fix redefines `toIndexType` (a var of this module's scope) with a probe that knows both
// keys, and only when the runtime's own answer is wrong, so it is a no-op where 3.1.69's probe
// works.
(function xleanFixIndexType() {
  if (typeof toIndexType !== 'function') return; // a runtime without memory64 index conversion
  function accepts(descriptor) {
    try {
      new WebAssembly.Memory(descriptor);
      return true;
    } catch (e) {
      return false;
    }
  }
  var wantsBigInt =
    accepts({ initial: 1n, maximum: 1n, address: 'i64' }) ||
    accepts({ initial: 1n, maximum: 1n, index: 'i64' });
  if (wantsBigInt && typeof toIndexType(1) !== 'bigint') {
    toIndexType = function (i) { return BigInt(i); };
  }
})();
