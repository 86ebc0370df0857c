// Commands that create a store and manage what it keeps: init (the store marker).
import { readMarker, writeMarker } from '../store/marker.js';
import { TOOL } from '../ops/snapshot.js';
import type { CommandSpec } from './commands.js';

export const LIFECYCLE_COMMANDS: Record<string, CommandSpec> = {
  init: {
    usage: 'init --store URL',
    summary: 'create a store (writes its marker; every other command refuses a location without one)',
    positionals: 0,
    storeMode: 'init',
    options: {},
    async run(ctx) {
      const marker = (await readMarker(ctx.store)) ?? (await writeMarker(ctx.store, `${TOOL} on ${ctx.host}`)).marker;
      return {
        json: { store: ctx.store.description, ...marker },
        text: `layerkeep store at ${ctx.store.description} (format ${marker.formatVersion}, created ${marker.created} by ${marker.by})`,
      };
    },
  },
};
