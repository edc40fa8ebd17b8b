// Keeps memory flat while a huge message streams through. Each chunk of a 50 MB message is a
// short-lived Buffer, but V8 only collects external (Buffer) memory after tens of megabytes of
// it pile up, so RSS would grow by that much. Collecting every few megabytes of a large stream
// bounds the growth to a few chunks, at the cost of a few milliseconds per collection.
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | null | undefined;

function collect(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  gc?.();
}

const EVERY_BYTES = 8 * 1024 * 1024;
let seen = 0;

/** Notes bytes streamed through this thread; collects garbage every few megabytes of them. */
export function streamed(bytes: number): void {
  seen += bytes;
  if (seen >= EVERY_BYTES) {
    seen = 0;
    collect();
  }
}
