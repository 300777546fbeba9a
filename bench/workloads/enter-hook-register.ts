/** `node --import .../enter-hook-register.js`: installs {@link ./enter-hook.ts}. */
import { register } from 'node:module';

register(import.meta.url.endsWith('.ts') ? './enter-hook.ts' : './enter-hook.js', import.meta.url);
