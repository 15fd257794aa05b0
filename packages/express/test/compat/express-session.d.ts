// express-session ships no types, and @types/express-session would redeclare `req.session`, which
// the native middleware already types: the compat tests use express-session through this small
// declaration of the parts they call (connect-redis's types import `Store` and `SessionData`).
declare module 'express-session' {
  import type { RequestHandler } from 'express';
  export interface SessionData {
    [key: string]: unknown;
  }
  export class Store {}
  export interface SessionOptions {
    secret: string | string[];
    store?: Store;
    name?: string;
    resave?: boolean;
    saveUninitialized?: boolean;
    rolling?: boolean;
    cookie?: { maxAge?: number; secure?: boolean | 'auto'; sameSite?: boolean | string };
  }
  export default function session(options: SessionOptions): RequestHandler;
}
