// Where proto/layerkeep.proto sits relative to the compiled module (dist/src/<dir>/x.js).
import { fileURLToPath } from 'node:url';

export const PROTO_PATH = fileURLToPath(new URL('../../../proto/layerkeep.proto', import.meta.url));
