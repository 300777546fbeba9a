/**
 * The one error type the extractor throws for input it cannot understand. Every instance
 * names the place in the header (file:line:column) so a kernel upgrade that brings a new
 * construct fails loudly at the line that needs attention, instead of producing a spec that
 * silently lacks something.
 */

/** A position in a header file; `file` is the path the user can open. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** The extractor met something in a header it does not understand. */
export class ExtractError extends Error {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The message without the location prefix. */
  readonly reason: string;

  constructor(at: SourcePosition, reason: string) {
    super(`${at.file}:${at.line}:${at.col}: ${reason}`);
    this.name = 'ExtractError';
    this.file = at.file;
    this.line = at.line;
    this.col = at.col;
    this.reason = reason;
  }
}
