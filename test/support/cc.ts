/**
 * The C compiler the layout cross-checks use: `$CC`, else `cc`, `gcc` or `clang`, whichever
 * answers `--version` first; null when none does (the tests then skip, saying why). The same
 * choice as the spec's own C cross-check (codegen/extract/c-check.ts), which makes it.
 */
export { findHostCompiler as findCCompiler } from '../../codegen/extract/c-check.js';
