// Copies the one proto the client loads, schemas/vigil/v1/event_store.proto,
// into proto/ (git-ignored, shipped in the package): the repository's
// schema stays the only copy under version control.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(pkg, '..', '..', 'schemas', 'vigil', 'v1', 'event_store.proto');
const to = join(pkg, 'proto', 'vigil', 'v1', 'event_store.proto');
mkdirSync(dirname(to), { recursive: true });
copyFileSync(from, to);
