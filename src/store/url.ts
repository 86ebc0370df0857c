// Store URLs, parsed strictly: a typo must be a usage error naming what is wrong, never a
// directory created somewhere unexpected (`s3:/bucket` used to become ./s3:/bucket, and
// `file://relative/path` became /path at the filesystem root).

import { LayerkeepError } from '../errors.js';

/** A malformed store URL: the caller's input is wrong (kind invalid: exit 2, a usage error). */
export class StoreUrlError extends LayerkeepError {
  override name = 'StoreUrlError';
  constructor(readonly spec: string, problem: string) {
    super('invalid', `invalid store URL ${JSON.stringify(spec)}: ${problem} (expected file:///ABSOLUTE/DIR or s3://BUCKET/PREFIX)`, { object: spec });
  }
}

export type StoreLocation =
  | { kind: 'file'; root: string; url: string }
  | { kind: 's3'; bucket: string; prefix: string; url: URL };

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

function checkAbsolute(spec: string, path: string): string {
  if (!path.startsWith('/')) throw new StoreUrlError(spec, 'a local store needs an absolute path');
  if (path.split('/').some((c) => c === '.' || c === '..')) throw new StoreUrlError(spec, 'the path must not contain . or .. components');
  if (path.includes('\0')) throw new StoreUrlError(spec, 'the path contains a NUL byte');
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** Parses file:///DIR, s3://BUCKET[/PREFIX] or a plain absolute path (a local directory). */
export function parseStoreUrl(spec: string): StoreLocation {
  if (spec.trim() === '') throw new StoreUrlError(spec, 'it is empty');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(spec);
  if (!scheme) {
    const root = checkAbsolute(spec, spec);
    return { kind: 'file', root, url: `file://${root}` };
  }
  const name = scheme[1]!.toLowerCase();
  if (name !== 'file' && name !== 's3') throw new StoreUrlError(spec, `unsupported scheme ${JSON.stringify(`${scheme[1]}:`)}`);
  if (!spec.slice(scheme[0].length).startsWith('//')) throw new StoreUrlError(spec, `${name}: must be followed by // (as in ${name}://...)`);
  // the URL parser resolves . and .. silently: check the raw text first
  if (spec.split(/[/?#]/).some((c) => c === '.' || c === '..' || /^%2e(%2e)?$/i.test(c))) throw new StoreUrlError(spec, 'the path must not contain . or .. components');
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new StoreUrlError(spec, 'it is not a URL');
  }
  if (url.username || url.password) throw new StoreUrlError(spec, 'credentials do not belong in the URL (use the environment or --s3-* options)');
  if (url.search || url.hash) throw new StoreUrlError(spec, 'a query (?) or fragment (#) is not allowed');
  if (name === 'file') {
    if (url.host !== '') {
      throw new StoreUrlError(spec, `file:// is followed by the host ${JSON.stringify(url.host)}; a local store needs an absolute path, as in file:///${url.host}${url.pathname}`);
    }
    const root = checkAbsolute(spec, decodeURIComponent(url.pathname));
    return { kind: 'file', root, url: `file://${root}` };
  }
  if (url.port) throw new StoreUrlError(spec, 'an s3:// URL names a bucket, not a host:port (set the endpoint with --s3-endpoint)');
  if (!url.hostname) throw new StoreUrlError(spec, 'the bucket name is missing (s3://BUCKET/PREFIX)');
  if (!BUCKET_RE.test(url.hostname)) throw new StoreUrlError(spec, `${JSON.stringify(url.hostname)} is not a valid S3 bucket name`);
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((c) => c === '.' || c === '..') || /\/\//.test(prefix)) throw new StoreUrlError(spec, 'the prefix must not contain empty, . or .. components');
  return { kind: 's3', bucket: url.hostname, prefix, url };
}
