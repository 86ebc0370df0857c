// Test helper process: freezes a cgroup through withFrozen() and never finishes, so the test can
// SIGKILL it mid-freeze. Arguments: cgroup dir, run dir, freeze timeout in ms.
import { withFrozen } from '../../src/sync/freeze.js';

const [dir, runDir, timeout] = process.argv.slice(2);
void withFrozen({ dir: dir!, version: 2 }, { runDir: runDir!, timeoutMs: Number(timeout) }, async () => {
  process.stdout.write('frozen\n');
  setInterval(() => undefined, 60_000); // stay alive until killed
  await new Promise(() => undefined);
});
