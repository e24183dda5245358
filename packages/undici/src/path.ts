/**
 * The upstream path for a client's request target, always under `basePath`; `undefined` when the
 * target cannot be kept there safely. Dot segments (plain or percent-encoded) are resolved
 * within the request's own path, so `..` can never climb above the base; absolute-form URLs,
 * encoded slashes and backslashes are refused, and so are dot segments with path parameters.
 */
export function upstreamPath(basePath: string, requestTarget: string): string | undefined {
  if (!requestTarget.startsWith('/')) return undefined;
  const queryAt = requestTarget.indexOf('?');
  const pathname = queryAt === -1 ? requestTarget : requestTarget.slice(0, queryAt);
  const query = queryAt === -1 ? '' : requestTarget.slice(queryAt);
  if (/%2f|%5c|\\|%00/i.test(pathname) || pathname.includes('#')) return undefined;
  const segments: string[] = [];
  for (const segment of pathname.split('/')) {
    const plain = segment.replace(/%2e/gi, '.');
    if (segment === '' || plain === '.') continue;
    if (plain === '..') segments.pop();
    else if (isDotWithParameters(plain)) return undefined;
    else segments.push(segment);
  }
  const base = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  const trailing = pathname.endsWith('/') && segments.length > 0 ? '/' : '';
  return `${base}/${segments.join('/')}${trailing}${query}`;
}

/**
 * `..;`, `.;jsessionid=x`, `..%3B`: a dot segment to servers that strip path parameters before
 * resolving dot segments (Tomcat, and Spring on it, read `/v1/..;/admin` as `/admin`), but an
 * ordinary name to the proxy. Neither reading is safe to pass on, so such a segment is refused.
 */
function isDotWithParameters(segment: string): boolean {
  const withParameters = segment.replace(/%3b/gi, ';');
  const at = withParameters.indexOf(';');
  if (at === -1) return false;
  const bare = withParameters.slice(0, at);
  return bare === '.' || bare === '..';
}
