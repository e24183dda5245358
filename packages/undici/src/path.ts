/**
 * The upstream path for a client's request target, always under `basePath`; `undefined` when the
 * target cannot be kept there safely. Dot segments (plain or percent-encoded) are resolved
 * within the request's own path, so `..` can never climb above the base; absolute-form URLs,
 * encoded slashes and backslashes are refused.
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
    else segments.push(segment);
  }
  const base = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  const trailing = pathname.endsWith('/') && segments.length > 0 ? '/' : '';
  return `${base}/${segments.join('/')}${trailing}${query}`;
}
