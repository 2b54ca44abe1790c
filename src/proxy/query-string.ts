/**
 * The query string of `url` with its `filter` parameter passed through `rewrite`; every other
 * parameter keeps its exact bytes (Entra's `aadOptscim062020` flag has no `=`). Form-decoding
 * (`+` is a space) as Entra encodes filters; an undecodable value is left alone.
 */
export function rewriteQuery(url: string, rewrite: (filter: string) => string): string {
  const index = url.indexOf('?');
  if (index === -1) return '';
  return url
    .slice(index + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq === -1 || part.slice(0, eq).toLowerCase() !== 'filter') return part;
      let filter: string;
      try {
        filter = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
      } catch {
        return part;
      }
      const rewritten = rewrite(filter);
      return rewritten === filter ? part : `${part.slice(0, eq)}=${encodeURIComponent(rewritten)}`;
    })
    .join('&');
}
