/**
 * Module resolve hook (registered by `enter-hook-register.ts` with `--import`): every import
 * of `src/sys/libc.js` gets `timed-libc.js` instead, except the wrapper's own import.
 *
 * @module
 */
interface ResolveResult {
  url: string;
  format?: string | null | undefined;
  shortCircuit?: boolean | undefined;
}
type NextResolve = (specifier: string, context: { parentURL?: string | undefined }) => Promise<ResolveResult>;

// Under tsx the sources run as .ts; compiled, as .js.
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WRAPPER = new URL(`./timed-libc${EXT}`, import.meta.url).href;

export async function resolve(specifier: string, context: { parentURL?: string | undefined }, next: NextResolve): Promise<ResolveResult> {
  const result = await next(specifier, context);
  if (result.url.endsWith(`/src/sys/libc${EXT}`) && context.parentURL !== WRAPPER) return { ...result, url: WRAPPER };
  return result;
}
