/**
 * A small parser for XML property lists (Apple's plist DTD 1.0): dict, array, string, integer,
 * real, true, false, date (as a Date), data (as a Buffer). Enough to read an Alfred workflow's
 * info.plist; throws on anything malformed (unclosed or mismatched tags, a key without a value,
 * unknown elements), so a plist Alfred could not read fails the tests too.
 */

export type PlistValue = string | number | boolean | Date | Buffer | PlistValue[] | { [key: string]: PlistValue };

interface Token {
  kind: 'open' | 'close' | 'empty' | 'text';
  name: string;
  text: string;
  at: number;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(s: string, at: number): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);?/g, (m, ref: string) => {
    if (!m.endsWith(';')) throw new Error(`plist: bad entity ${m} near offset ${at}`);
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const v = ENTITIES[ref];
    if (v === undefined) throw new Error(`plist: unknown entity &${ref}; near offset ${at}`);
    return v;
  });
}

function tokenize(xml: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    if (lt === -1) {
      tokens.push({ kind: 'text', name: '', text: xml.slice(i), at: i });
      break;
    }
    if (lt > i) tokens.push({ kind: 'text', name: '', text: xml.slice(i, lt), at: i });
    if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt);
      if (end === -1) throw new Error('plist: unterminated <?');
      i = end + 2;
    } else if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt);
      if (end === -1) throw new Error('plist: unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('<!', lt)) {
      const end = xml.indexOf('>', lt);
      if (end === -1) throw new Error('plist: unterminated <!');
      i = end + 1;
    } else {
      const end = xml.indexOf('>', lt);
      if (end === -1) throw new Error(`plist: unterminated tag at offset ${lt}`);
      const inner = xml.slice(lt + 1, end).trim();
      const m = /^(\/?)([A-Za-z][\w.-]*)(\s[^>]*?)?(\/?)$/.exec(inner);
      if (!m) throw new Error(`plist: bad tag <${inner}> at offset ${lt}`);
      const kind = m[1] ? 'close' : m[4] ? 'empty' : 'open';
      tokens.push({ kind, name: m[2]!, text: '', at: lt });
      i = end + 1;
    }
  }
  return tokens;
}

export function parsePlist(xml: string): PlistValue {
  const tokens = tokenize(xml);
  let pos = 0;
  /** Skips whitespace between elements (it is only content inside <string> and friends). */
  const skipWs = (): void => {
    while (tokens[pos]?.kind === 'text' && tokens[pos]!.text.trim() === '') pos++;
  };
  const peek = (): Token | undefined => {
    skipWs();
    return tokens[pos];
  };
  const next = (): Token => {
    skipWs();
    const t = tokens[pos++];
    if (!t) throw new Error('plist: unexpected end of document');
    return t;
  };
  const expectClose = (name: string): void => {
    const t = next();
    if (t.kind !== 'close' || t.name !== name) throw new Error(`plist: expected </${name}> at offset ${t.at}`);
  };
  /** Text content up to the closing tag (whitespace kept for strings). */
  const textUntilClose = (name: string): string => {
    let s = '';
    while (tokens[pos]?.kind === 'text') {
      const t = tokens[pos++]!;
      s += decodeEntities(t.text, t.at);
    }
    expectClose(name);
    return s;
  };

  const value = (): PlistValue => {
    const t = next();
    if (t.kind === 'text') throw new Error(`plist: unexpected text "${t.text.trim().slice(0, 40)}" at offset ${t.at}`);
    if (t.kind === 'close') throw new Error(`plist: unexpected </${t.name}> at offset ${t.at}`);
    if (t.kind === 'empty') {
      switch (t.name) {
        case 'true':
          return true;
        case 'false':
          return false;
        case 'string':
          return '';
        case 'array':
          return [];
        case 'dict':
          return {};
        case 'data':
          return Buffer.alloc(0);
        default:
          throw new Error(`plist: unexpected <${t.name}/> at offset ${t.at}`);
      }
    }
    switch (t.name) {
      case 'string':
        return textUntilClose('string');
      case 'integer': {
        const s = textUntilClose('integer').trim();
        if (!/^[+-]?\d+$/.test(s)) throw new Error(`plist: bad integer "${s}" at offset ${t.at}`);
        return Number(s);
      }
      case 'real': {
        const s = textUntilClose('real').trim();
        const n = Number(s);
        if (s === '' || Number.isNaN(n)) throw new Error(`plist: bad real "${s}" at offset ${t.at}`);
        return n;
      }
      case 'date':
        return new Date(textUntilClose('date').trim());
      case 'data':
        return Buffer.from(textUntilClose('data').replace(/\s+/g, ''), 'base64');
      case 'true':
      case 'false':
        expectClose(t.name);
        return t.name === 'true';
      case 'array': {
        const out: PlistValue[] = [];
        while (!(peek()?.kind === 'close' && peek()?.name === 'array')) out.push(value());
        expectClose('array');
        return out;
      }
      case 'dict': {
        const out: { [key: string]: PlistValue } = {};
        while (!(peek()?.kind === 'close' && peek()?.name === 'dict')) {
          const k = next();
          if (k.kind !== 'open' || k.name !== 'key') throw new Error(`plist: expected <key> in <dict> at offset ${k.at}`);
          const key = textUntilClose('key');
          if (Object.prototype.hasOwnProperty.call(out, key)) throw new Error(`plist: duplicate key "${key}" at offset ${k.at}`);
          const nt = peek();
          if (!nt || nt.kind === 'close') throw new Error(`plist: key "${key}" has no value (offset ${k.at})`);
          out[key] = value();
        }
        expectClose('dict');
        return out;
      }
      default:
        throw new Error(`plist: unknown element <${t.name}> at offset ${t.at}`);
    }
  };

  const root = next();
  if (root.kind !== 'open' || root.name !== 'plist') throw new Error('plist: expected a <plist> root element');
  const v = value();
  expectClose('plist');
  skipWs();
  if (pos !== tokens.length) throw new Error('plist: content after </plist>');
  return v;
}
