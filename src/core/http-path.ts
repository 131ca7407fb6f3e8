/**
 * Which parameter of an OIP (or admin) path is not valid percent-encoding, as a 400's message:
 * express decodes a path's parameters, so a bad %-escape is that parameter's fault. Shared by the
 * router and the nodes, which serve the same OIP paths.
 */
export function badPathEncoding(path: string): string {
  const decodes = (s: string | undefined): boolean => {
    try {
      decodeURIComponent(s ?? '');
      return true;
    } catch {
      return false;
    }
  };
  const seg = path.split('/');
  if (seg[1] === 'v2' && seg[2] === 'models') {
    if (!decodes(seg[3])) return 'model: the name in the path is not valid percent-encoding';
    if (seg[4] === 'versions' && !decodes(seg[5])) return 'version: the version in the path is not valid percent-encoding';
  }
  if (seg[1] === 'v1' && seg[2] === 'backends' && !decodes(seg[3])) return 'id: the backend id in the path is not valid percent-encoding';
  return 'path: not valid percent-encoding';
}
