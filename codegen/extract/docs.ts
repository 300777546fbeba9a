/**
 * Turns the headers' comments into `doc` strings. The io_uring headers document things in
 * three ways, and all three are read:
 * - a comment after an item on the same line (`__u32 len; /* buffer size *\/`);
 * - a comment block directly above an item;
 * - a table inside a comment above a group of defines, one `NAME<tab>text` entry per define
 *   (`IORING_POLL_ADD_MULTI	Multishot poll. ...`), with the text before the first entry
 *   describing the whole group.
 * A comment above a group (`sqe->flags`, `io_uring_setup() flags`) is a group header, not the
 * first define's doc; group headers become flag-set descriptions.
 */
import type { Comment, Token } from './lexer.js';
import type { EnumDeclAst, MemberAst, ParseResult, RecordBodyAst } from './parse.js';
import type { MacroDef, SourceFile } from './preprocess.js';

/** The comment's lines with the delimiters and the ` * ` gutter removed (inner white space kept). */
export function commentLines(c: Comment): string[] {
  if (!c.block) return [c.body];
  return c.body.split('\n').map((line, i) => {
    let s = line;
    if (i === 0) s = s.replace(/^\*+(?!\/)/, ''); // the second star of a `/**` opener
    return s.replace(/^\s*\*(?!\/)/, '').replace(/\s+$/, '');
  });
}

/** Lines folded into one paragraph: white space collapsed, trimmed; undefined when nothing is left. */
export function foldDoc(lines: readonly string[]): string | undefined {
  const text = lines.join(' ').replace(/\s+/g, ' ').trim();
  return text === '' ? undefined : text;
}

/** A comment holding a `NAME<tab>text` table. */
export interface CommentTable {
  /** Text outside the entries: what the group is. */
  header?: string;
  /** Doc per defined name (an entry may name a prefix, `IORING_POLL_UPDATE`, covering several). */
  docs: Map<string, string>;
}

const ENTRY = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(:?)(\s+|$)(.*)$/;

/**
 * Reads a comment as a table of entries for names defined after it.
 * @param laterNames names defined after the comment in the same file, in order
 * @returns undefined when the comment has no entries
 */
export function parseCommentTable(c: Comment, laterNames: readonly { name: string; line: number }[]): CommentTable | undefined {
  // A table documents the group right below it; a name defined far away is prose that happens
  // to start a line ("IORING_SQ_TASKRUN in the sq ring flags").
  const nearby = laterNames.filter((n) => n.line - c.endLine <= 40).map((n) => n.name);
  const near = new Set(nearby);
  const headerLines: string[] = [];
  const entries: { targets: string[]; lines: string[]; closed: boolean }[] = [];
  for (const raw of commentLines(c)) {
    const line = raw.trim();
    const current = entries[entries.length - 1];
    if (line === '') {
      if (current) current.closed = true;
      continue;
    }
    // Entries start at the table's key column; deeper lines continue the entry above.
    const indent = /^\s*/.exec(raw)![0];
    const m = indent.includes('\t') || indent.length > 3 ? null : ENTRY.exec(line);
    if (m) {
      const [, name, colon, sep, rest] = m as unknown as [string, string, string, string, string];
      // A tab, two spaces or a colon after the name is table layout; a single space may be prose
      // ("IORING_OP_MSG_RING command types"), so then the name must be one defined just below.
      const tabular = colon !== '' || sep.includes('\t') || sep.length >= 2;
      const known = near.has(name);
      if (known || (tabular && rest !== '')) {
        const targets = known ? [name] : nearby.filter((n) => n.startsWith(`${name}_`));
        entries.push({ targets, lines: [rest], closed: false });
        continue;
      }
    }
    if (current && !current.closed) current.lines.push(line);
    else headerLines.push(line);
  }
  if (entries.length === 0) return undefined;
  const docs = new Map<string, string>();
  for (const e of entries) {
    const text = foldDoc(e.lines);
    if (text === undefined) continue;
    for (const t of e.targets) if (!docs.has(t)) docs.set(t, text);
  }
  const header = foldDoc(headerLines);
  return header === undefined ? { docs } : { header, docs };
}

// `sqe->flags`, `cq_ring->flags`, `io_uring_params->features flags`: the header's own group titles.
const GROUP_TITLE = /^(sqe|cqe|sq_ring|cq_ring|io_uring_\w+)->\w/;

/** Comments of one file, indexed by where they sit relative to code. */
class FileComments {
  private readonly standaloneByEnd = new Map<number, Comment>();
  private readonly standaloneStarts = new Set<number>();
  private readonly trailingByLine = new Map<number, Comment[]>();
  readonly tables = new Map<Comment, CommentTable>();
  readonly tableDocs = new Map<string, string>();

  constructor(readonly file: SourceFile, definedNames: readonly { name: string; line: number }[]) {
    for (const c of file.comments) {
      if (c.codeBefore) {
        const list = this.trailingByLine.get(c.line) ?? [];
        list.push(c);
        this.trailingByLine.set(c.line, list);
        continue;
      }
      this.standaloneStarts.add(c.line);
      if (!c.codeAfter) this.standaloneByEnd.set(c.endLine, c);
      const table = parseCommentTable(c, definedNames.filter((n) => n.line > c.endLine));
      if (table) {
        this.tables.set(c, table);
        for (const [name, doc] of table.docs) if (!this.tableDocs.has(name)) this.tableDocs.set(name, doc);
      }
    }
  }

  /** The comment ending on the line just above `line`, alone on its lines. */
  above(line: number): Comment | undefined {
    return this.standaloneByEnd.get(line - 1);
  }

  /** The first comment after `last` on the same line. */
  trailing(last: { endLine: number; endCol: number }): Comment | undefined {
    return this.trailingByLine.get(last.endLine)?.find((c) => c.col > last.endCol);
  }

  startsComment(line: number): boolean {
    return this.standaloneStarts.has(line);
  }

  /** A comment's text as a doc: for a table, the part outside the entries. */
  text(c: Comment): string | undefined {
    const table = this.tables.get(c);
    return table ? table.header : foldDoc(commentLines(c));
  }
}

/** Docs for everything in the spec, plus the group headers the flag sets use. */
export interface Docs {
  constant: Map<string, string>;
  enumDecl: Map<EnumDeclAst, string>;
  enumMember: Map<string, string>;
  record: Map<RecordBodyAst, string>;
  member: Map<MemberAst, string>;
  /** Group header text, keyed by the first constant or anonymous-enum member it stands above. */
  groupHeader: Map<string, string>;
}

const joinDocs = (parts: (string | undefined)[]): string | undefined => {
  const unique = [...new Set(parts.filter((p): p is string => p !== undefined && p !== ''))];
  return unique.length === 0 ? undefined : unique.join(' ');
};

const lastTokenOf = (m: MacroDef): Token => m.body[m.body.length - 1] ?? m.nameToken;

/**
 * Attaches comments to constants, enums, records and their members, and finds group headers.
 * @param constants the #defines that become spec constants
 */
export function collectDocs(files: readonly SourceFile[], constants: readonly MacroDef[], parsed: ParseResult): Docs {
  const docs: Docs = {
    constant: new Map(), enumDecl: new Map(), enumMember: new Map(), record: new Map(), member: new Map(), groupHeader: new Map(),
  };
  const names: { header: string; name: string; line: number }[] = [
    ...constants.map((m) => ({ header: m.nameToken.header, name: m.name, line: m.nameToken.line })),
    ...parsed.enums.flatMap((e) => e.members.map((mem) => ({ header: mem.nameToken.header, name: mem.name, line: mem.nameToken.line }))),
  ];
  const byFile = new Map<string, FileComments>();
  for (const f of files) {
    byFile.set(f.header, new FileComments(f, names.filter((n) => n.header === f.header).sort((a, b) => a.line - b.line)));
  }
  const used = new Set<Comment>();
  const fc = (header: string): FileComments => byFile.get(header)!;
  const aboveDoc = (comments: FileComments, line: number): string | undefined => {
    const c = comments.above(line);
    if (c === undefined) return undefined;
    used.add(c);
    return comments.text(c);
  };
  const trailingDoc = (comments: FileComments, last: Token): string | undefined => {
    const c = comments.trailing(last);
    if (c === undefined) return undefined;
    used.add(c);
    return foldDoc(commentLines(c));
  };

  // Records and their members, inline ones included.
  const visitBody = (body: RecordBodyAst): void => {
    const comments = fc(body.keyword.header);
    for (const m of body.members) {
      const doc = joinDocs([aboveDoc(comments, m.first.line), trailingDoc(comments, m.last)]);
      if (doc !== undefined) docs.member.set(m, doc);
      if (m.type.kind === 'inline') visitBody(m.type.body);
    }
  };
  for (const r of parsed.records) {
    const doc = aboveDoc(fc(r.body.keyword.header), r.body.keyword.line);
    if (doc !== undefined) docs.record.set(r.body, doc);
    visitBody(r.body);
  }

  for (const e of parsed.enums) {
    const comments = fc(e.keyword.header);
    const doc = aboveDoc(comments, e.keyword.line);
    if (doc !== undefined) docs.enumDecl.set(e, doc);
    for (const mem of e.members) {
      const d = joinDocs([aboveDoc(comments, mem.nameToken.line), comments.tableDocs.get(mem.name), trailingDoc(comments, mem.last)]);
      if (d !== undefined) docs.enumMember.set(mem.name, d);
    }
  }

  // Defines: the comment above is the define's doc unless it is the header of a group.
  const constantAt = new Map<string, MacroDef>();
  for (const m of constants) constantAt.set(`${m.nameToken.header}:${m.nameToken.line}`, m);
  const headerAbove = new Map<MacroDef, Comment>();
  for (const m of constants) {
    const comments = fc(m.nameToken.header);
    const line = m.nameToken.line;
    const last = lastTokenOf(m);
    const trailing = comments.trailing(last);
    const above = comments.above(line);
    let aboveText: string | undefined;
    if (above !== undefined) {
      const next = constantAt.get(`${m.nameToken.header}:${last.endLine + 1}`);
      const isHeader =
        comments.tables.has(above) ||
        comments.startsComment(above.endLine + 1) ||
        trailing !== undefined ||
        GROUP_TITLE.test(foldDoc(commentLines(above)) ?? '') ||
        (above.line < above.endLine && next !== undefined && comments.trailing(lastTokenOf(next)) === undefined);
      if (isHeader) headerAbove.set(m, above);
      else {
        used.add(above);
        aboveText = comments.text(above);
      }
    }
    if (trailing !== undefined) used.add(trailing);
    const doc = joinDocs([aboveText, comments.tableDocs.get(m.name), trailing ? foldDoc(commentLines(trailing)) : undefined]);
    if (doc !== undefined) docs.constant.set(m.name, doc);
  }

  const headerComments = new Set(headerAbove.values());
  // Group headers: walk each file top to bottom; an unused comment is remembered until the
  // next item, and handed to it if that item starts a group of constants.
  for (const f of files) {
    const comments = fc(f.header);
    type Event = { line: number; comment?: Comment; constant?: MacroDef; anonymousEnum?: EnumDeclAst };
    const spans: [number, number][] = [];
    const events: Event[] = [];
    for (const r of parsed.records) if (r.body.keyword.header === f.header) spans.push([r.body.keyword.line, r.body.close.line]);
    for (const e of parsed.enums) {
      if (e.keyword.header !== f.header) continue;
      spans.push([e.keyword.line, e.close.line]);
      events.push(e.name === null ? { line: e.keyword.line, anonymousEnum: e } : { line: e.keyword.line });
    }
    for (const r of parsed.records) if (r.body.keyword.header === f.header) events.push({ line: r.body.keyword.line });
    for (const d of f.directives) {
      const constant = d.macro !== undefined && constants.includes(d.macro) ? d.macro : undefined;
      events.push(constant ? { line: d.line, constant } : { line: d.line });
    }
    for (const c of f.comments) {
      if (c.codeBefore || spans.some(([a, b]) => c.line > a && c.line <= b)) continue;
      events.push({ line: c.line, comment: c });
    }
    events.sort((a, b) => a.line - b.line || (a.comment ? -1 : 0) - (b.comment ? -1 : 0));
    let pending: string | undefined;
    for (const ev of events) {
      if (ev.comment) {
        // A header right above its define is handed over there; a doc is not a header.
        if (!used.has(ev.comment) && !headerComments.has(ev.comment)) pending = comments.text(ev.comment);
        continue;
      }
      if (ev.constant) {
        const above = headerAbove.get(ev.constant);
        const header = above ? comments.text(above) : pending;
        if (header !== undefined) docs.groupHeader.set(ev.constant.name, header);
      } else if (ev.anonymousEnum) {
        const header = docs.enumDecl.get(ev.anonymousEnum) ?? pending;
        if (header !== undefined) docs.groupHeader.set(ev.anonymousEnum.members[0]!.name, header);
      }
      pending = undefined;
    }
  }
  return docs;
}
