/**
 * A target call's path as ops should see it: `/api/v1/accounts/{targetId}/disable` rather than
 * the concrete path, and no query string (queries carry user names: `?login=ada@…`). Equal
 * failures then look equal across resources, and no attribute value leaks into a reason.
 */
export function pathTemplate(path: string, ids: { targetId?: string | undefined; memberTargetId?: string | undefined }): string {
  const query = path.indexOf('?');
  const pathname = query === -1 ? path : path.slice(0, query);
  const names: Array<[string | undefined, string]> = [
    [ids.memberTargetId, '{memberTargetId}'],
    [ids.targetId, '{targetId}'],
  ];
  const segments = pathname.split('/').map((segment) => {
    const decoded = segment.includes('%') ? safeDecode(segment) : segment;
    for (const [value, name] of names) if (value !== undefined && value !== '' && decoded === value) return name;
    return segment;
  });
  return `${segments.join('/')}${query === -1 ? '' : '?…'}`;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
