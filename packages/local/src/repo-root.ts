import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The workspace root (the folder holding `pnpm-workspace.yaml`), found from this file's own
 * location, so it is the same whether the code runs from `src/` (tests) or `dist/`, and whatever
 * the current directory is.
 */
export function repoRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `@tributary/local could not find the workspace root (pnpm-workspace.yaml) above ${fileURLToPath(import.meta.url)}`,
      );
    }
    dir = parent;
  }
}
