/**
 * Access control, applied before any route (see the safety rules in ./index.ts): the Unix socket
 * is admitted as it is; over TCP the Host check (DNS rebinding), the Origin check of writes, the
 * `?token=` URL traded for a session cookie, then the token header or the cookie.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sessionCookieName, TOKEN_HEADER, TOKEN_PARAM, type ErrorCode } from '@memery/client/protocol';
import { sendErrorBody } from './http.js';
import { tokenMatches } from './security.js';

/** The page answered over TCP without the token: how to get in, and nothing else. */
const SIGN_IN_PAGE = Buffer.from(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>memery: token needed</title></head>
<body>
<h1>memery needs its token</h1>
<p>This memery server only answers its owner. To open the search page:</p>
<ul>
<li>run <code>memery serve --open</code> (when a server is already running it opens that one), or</li>
<li>open the address <code>memery serve</code> printed when it started: it ends in <code>?token=</code>&hellip;, or</li>
<li>read the token from the file <code>server-token</code> in memery's home folder (<code>MEMERY_HOME</code>) and open this page with <code>/?token=</code> and the token after it.</li>
</ul>
</body>
</html>
`);

/** The value of cookie `name`, if sent. */
function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Refuses a TCP request and closes its connection once answered (no body is waited for). */
function refuse(res: ServerResponse, status: number, code: ErrorCode, message: string, hint?: string): void {
  res.setHeader('Connection', 'close');
  sendErrorBody(res, status, { code, message, ...(hint ? { hint } : {}) });
}

export interface Gate {
  /** True when the request may go on to its route; otherwise it has been answered. */
  admit(req: IncomingMessage, res: ServerResponse, viaSocket: boolean): boolean;
  /** Called once the TCP port is known: the accepted Host names and the cookie's name. */
  listening(hosts: Set<string>, port: number): void;
}

/**
 * The gate of one server run. `loopback`: the Host header must then be one of the listening names.
 * The cookie holds a random session key of this run, not the token: browsers send 127.0.0.1's
 * cookies to every port of it, so a page on another local port that the owner opens could see it;
 * it then neither reveals the token file nor outlives this server.
 */
export function createGate(token: string, loopback: boolean): Gate {
  const session = randomBytes(32).toString('hex');
  let hosts = new Set<string>();
  let cookieName = sessionCookieName(0);
  return {
    listening(h, port) {
      hosts = h;
      cookieName = sessionCookieName(port);
    },
    admit(req, res, viaSocket) {
      if (viaSocket) return true;
      const hostHeader = String(req.headers.host ?? '').toLowerCase();
      if (loopback && !hosts.has(hostHeader)) {
        refuse(res, 403, 'E_FORBIDDEN', `Expected Host ${[...hosts][0]} but received ${hostHeader || 'none'}`, 'memery answers only to its loopback name (DNS rebinding protection).');
        return false;
      }
      const origin = req.headers.origin;
      if (req.method !== 'GET' && req.method !== 'HEAD' && origin !== undefined && origin !== `http://${hostHeader}`) {
        refuse(res, 403, 'E_FORBIDDEN', `Cross-origin request from ${origin} refused`);
        return false;
      }
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const path = q >= 0 ? raw.slice(0, q) : raw;
      // The URL `serve` prints: trade the token for the cookie, and drop it from the address bar.
      if (req.method === 'GET' && path === '/' && q >= 0) {
        const presented = new URLSearchParams(raw.slice(q + 1)).get(TOKEN_PARAM) ?? undefined;
        if (tokenMatches(presented, token)) {
          res.writeHead(303, {
            Location: '/',
            'Set-Cookie': `${cookieName}=${session}; HttpOnly; SameSite=Strict; Path=/`,
            'Cache-Control': 'no-store',
            'Content-Length': 0,
          });
          res.end();
          return false;
        }
      }
      const header = req.headers[TOKEN_HEADER];
      if (typeof header === 'string' && header !== '') {
        if (tokenMatches(header, token)) return true;
        refuse(res, 403, 'E_AUTH', `Wrong ${TOKEN_HEADER}`);
        return false;
      }
      // The cookie, unless the browser says the request comes from another site (another local port
      // is the same "site" for SameSite, but not for Sec-Fetch-Site).
      const fetchSite = req.headers['sec-fetch-site'];
      const cookieOk = fetchSite === undefined || fetchSite === 'same-origin' || fetchSite === 'none';
      if (cookieOk && tokenMatches(cookieValue(req, cookieName), session)) return true;
      if (req.method === 'GET' && path === '/') {
        res.writeHead(401, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': SIGN_IN_PAGE.length,
          'Cache-Control': 'no-store',
          'Content-Security-Policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
          Connection: 'close',
        });
        res.end(SIGN_IN_PAGE);
        return false;
      }
      refuse(
        res,
        401,
        'E_AUTH',
        `Every request over TCP needs the memery token (the ${TOKEN_HEADER} header, or the cookie set by opening the URL that \`memery serve\` prints)`,
        "Run `memery serve --open`, or open the URL it prints (it ends in ?token=); the token is in the file server-token in memery's home folder.",
      );
      return false;
    },
  };
}
