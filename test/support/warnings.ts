/**
 * The process warnings raised while `fn` runs (their `code`, else their message). A ring's
 * close() that cannot get its in-flight ops back gives up after its drain time with
 * TSURING_CLOSE_ABANDONED: checking that it did not is how a test says "close cancelled them
 * at once" without timing it.
 */
export async function warningsDuring(fn: () => void | Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error & { code?: string }): void => void seen.push(w.code ?? w.message);
  process.on('warning', onWarning);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve)); // emitWarning reports on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}
