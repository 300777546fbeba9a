// @ts-check
/**
 * A TypeDoc plugin (loaded from typedoc.json) for the guides: headings with inline code keep
 * that code's text in the page outline and in their anchors.
 *
 * TypeDoc 0.28 builds both from a heading's `text` tokens only, so "Registered files:
 * `FileTable` and `FixedFile`" became "Registered files:  and " with the anchor
 * `#registered-files-and` (TypeStrong/typedoc#3023). This gives each `code_inline` token of a
 * heading a `text` child holding its content: TypeDoc's text collector reads it, while
 * markdown-it still renders the token from its own content, as `<code>`.
 */

/** @param {import('typedoc').Application} app */
export function load(app) {
  // Options are read again after plugins load: set ours once bootstrapping is done.
  app.on('bootstrapEnd', () => setLoader(app));
}

/** @param {import('typedoc').Application} app */
function setLoader(app) {
  const previous = app.options.getValue('markdownItLoader');
  app.options.setValue('markdownItLoader', (/** @type {any} */ md) => {
    if (typeof previous === 'function') previous(md);
    md.core.ruler.push('tsuring_heading_code_text', (/** @type {any} */ state) => {
      const tokens = state.tokens;
      for (let i = 0; i + 1 < tokens.length; i++) {
        if (tokens[i].type !== 'heading_open') continue;
        for (const child of tokens[i + 1].children ?? []) {
          if (child.type !== 'code_inline' || child.children) continue;
          const text = new state.Token('text', '', 0);
          text.content = child.content;
          child.children = [text];
        }
      }
    });
  });
}
