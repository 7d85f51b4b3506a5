/**
 * A small XML well-formedness check for the harness's SVG (no XML parser ships with
 * Node): one root element, every tag closed in order, attributes quoted, only the five
 * predefined entities and numeric references, nothing but whitespace outside the root.
 */
export function checkXml(text: string): { ok: true; elements: number } | { ok: false; error: string } {
  const stack: string[] = [];
  let elements = 0;
  let roots = 0;
  let i = 0;
  const badText = (t: string): string | undefined => {
    const amp = /&(?!(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/.exec(t);
    if (amp !== null) return `bare & at ${i + amp.index}`;
    if (t.includes('<')) return 'stray <';
    return undefined;
  };
  if (text.startsWith('<?xml')) i = text.indexOf('?>') + 2;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (stack.length === 0 && chunk.trim() !== '') return { ok: false, error: `text outside the root: '${chunk.trim().slice(0, 30)}'` };
    const bt = badText(chunk);
    if (bt !== undefined) return { ok: false, error: bt };
    if (lt < 0) break;
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt);
      if (end < 0) return { ok: false, error: 'unclosed comment' };
      i = end + 3;
      continue;
    }
    const gt = text.indexOf('>', lt);
    if (gt < 0) return { ok: false, error: 'unclosed tag' };
    const tag = text.slice(lt + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      if (stack.pop() !== name) return { ok: false, error: `</${name}> does not close the open element` };
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*\/?$/.exec(tag);
    if (m === null) return { ok: false, error: `bad tag <${tag.slice(0, 40)}>` };
    const attrs = m[2] ?? '';
    const bad = badText(attrs.replace(/<[^>]*>/g, ''));
    if (bad !== undefined) return { ok: false, error: `in <${m[1]}>: ${bad}` };
    const names = [...attrs.matchAll(/([A-Za-z_][\w:.-]*)\s*=/g)].map((x) => x[1]);
    if (new Set(names).size !== names.length) return { ok: false, error: `duplicate attribute in <${m[1]}>` };
    if (stack.length === 0) roots++;
    elements++;
    if (!selfClosing) stack.push(m[1]!);
  }
  if (stack.length > 0) return { ok: false, error: `unclosed <${stack.at(-1)}>` };
  if (roots !== 1) return { ok: false, error: `${roots} root elements` };
  return { ok: true, elements };
}
