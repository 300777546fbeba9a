/**
 * Checks that the counterparts the parity map names exist in tsuring's public API: the real
 * exports of src/index.ts, loaded at run time, and for what has no run-time form (type-only
 * exports such as `Cqe`, instance fields such as `IoUring#probe`) the declarations the
 * TypeScript compiler sees through src/index.ts.
 *
 * Name forms: `prepRead` (an export), `IoUring#submit` (a member of instances: prototype
 * methods and accessors, fields, interface properties), `FileTable.register` (a static
 * member).
 *
 * @module
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { REPO_ROOT } from './model.js';

const INDEX = join(REPO_ROOT, 'src', 'index.ts');

/** Whether a property is declared in this repository (not inherited from a lib type such as Object). */
function ours(property: ts.Symbol | undefined): boolean {
  const inRepo = (d: ts.Declaration): boolean => {
    const file = d.getSourceFile().fileName;
    return file.startsWith(`${REPO_ROOT}/src/`) || file.startsWith(`${REPO_ROOT}/generated/`);
  };
  return property?.declarations?.some(inRepo) === true;
}

/** The declared-type view of src/index.ts's exports, built on first need (a few seconds). */
class Declared {
  readonly #checker: ts.TypeChecker;
  readonly #exports: Map<string, ts.Symbol>;

  constructor() {
    const config = ts.readConfigFile(join(REPO_ROOT, 'tsconfig.json'), ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO_ROOT);
    // Only our own declarations matter (names, not type correctness): skip the default lib and
    // @types, most of what there is to parse.
    const program = ts.createProgram([INDEX], { ...parsed.options, noEmit: true, noLib: true, types: [] });
    this.#checker = program.getTypeChecker();
    const source = program.getSourceFile(INDEX);
    const moduleSymbol = source === undefined ? undefined : this.#checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`cannot read the exports of ${INDEX}`);
    this.#exports = new Map(this.#checker.getExportsOfModule(moduleSymbol).map((s) => [s.name, s]));
  }

  #resolved(name: string): ts.Symbol | undefined {
    const s = this.#exports.get(name);
    return s !== undefined && (s.flags & ts.SymbolFlags.Alias) !== 0 ? this.#checker.getAliasedSymbol(s) : s;
  }

  hasExport(name: string): boolean {
    return this.#exports.has(name);
  }

  /** Whether instances of the exported class / values of the exported interface have `member`. */
  hasInstanceMember(name: string, member: string): boolean {
    const s = this.#resolved(name);
    if (s === undefined) return false;
    return ours(this.#checker.getDeclaredTypeOfSymbol(s).getProperty(member));
  }

  /** Whether the exported value (class, object) has the static member. */
  hasStaticMember(name: string, member: string): boolean {
    const s = this.#resolved(name);
    const decl = s?.valueDeclaration ?? s?.declarations?.[0];
    if (s === undefined || decl === undefined) return false;
    return ours(this.#checker.getTypeOfSymbolAtLocation(s, decl).getProperty(member));
  }
}

/** Whether `member` is an own property of `target` or of a prototype above it, short of Object's and Function's own. */
function ownAlongChain(target: unknown, member: string): boolean {
  for (let o = target; o !== null && o !== undefined && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o)) {
    if (Object.hasOwn(o as object, member)) return true;
  }
  return false;
}

/** Resolves counterpart names against the public API. */
export class ApiNames {
  readonly #runtime: Record<string, unknown>;
  #declared: Declared | undefined;

  private constructor(runtime: Record<string, unknown>) {
    this.#runtime = runtime;
  }

  /** Loads src/index.ts (through the running TypeScript loader, e.g. tsx or vitest). */
  static async load(): Promise<ApiNames> {
    return new ApiNames((await import(pathToFileURL(INDEX).href)) as Record<string, unknown>);
  }

  #types(): Declared {
    return (this.#declared ??= new Declared());
  }

  /** Why `name` does not name something public, or null when it does. */
  problem(name: string): string | null {
    const m = /^([A-Za-z_$][\w$]*)(?:([#.])([A-Za-z_$][\w$]*))?$/.exec(name);
    if (m === null) return `"${name}" is not of the form Export, Export#member or Export.staticMember`;
    const [, exported, sep, member] = m as unknown as [string, string, string | undefined, string | undefined];
    const value = Object.hasOwn(this.#runtime, exported) ? this.#runtime[exported] : undefined;
    if (value === undefined && !this.#types().hasExport(exported)) return `${exported} is not exported by src/index.ts`;
    if (sep === undefined || member === undefined) return null;
    if (sep === '#') {
      if (typeof value === 'function' && ownAlongChain(value.prototype, member)) return null;
      if (this.#types().hasInstanceMember(exported, member)) return null;
      return `${exported} has no instance member ${member}`;
    }
    if (value !== null && (typeof value === 'function' || typeof value === 'object') && ownAlongChain(value, member)) return null;
    if (value === undefined && this.#types().hasStaticMember(exported, member)) return null;
    return `${exported} has no static member ${member}`;
  }
}
