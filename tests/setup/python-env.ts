// Global setup: make sure spark/.venv (pyarrow, moto) exists before any test file asks for it.
// @ts-expect-error -- a plain ES module script without type declarations
import { ensurePythonEnv } from '../../scripts/python-env.mjs';

export default function setup(): void {
  (ensurePythonEnv as (options?: { quiet?: boolean }) => string)();
}
