/**
 * The console's Content-Security-Policy: a <meta> in the built page, and a header from the local
 * server (which adds frame-ancestors, which a <meta> cannot carry). Scripts and
 * styles come only from the console's own files (nothing inline, no CDN) and requests go only
 * to its own origin, so an injected script has nowhere to send a key. 'unsafe-eval' is there for
 * ajv, which compiles a payload schema into a function (the same validator the server runs).
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
