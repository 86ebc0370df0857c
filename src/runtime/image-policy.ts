// What to do when a snapshot was taken on top of a different image than the container runs.
export type ImagePolicy = 'refuse' | 'warn' | 'allow';
import { invalid } from '../errors.js';

export function parseImagePolicy(v: string): ImagePolicy {
  if (v === 'refuse' || v === 'warn' || v === 'allow') return v;
  throw invalid(`invalid image policy ${JSON.stringify(v)}: use refuse, warn or allow`);
}

export interface ImageCheck {
  ok: boolean;
  /** Set when the images differ (a warning under 'warn', the refusal under 'refuse'). */
  message?: string;
}

/** Compares image ids; a snapshot without a recorded image matches anything. */
export function checkImage(policy: ImagePolicy, key: string, snapshotImage: { id: string; name?: string } | null | undefined, containerImage: { id: string; name?: string }): ImageCheck {
  if (!snapshotImage?.id || !containerImage.id || snapshotImage.id === containerImage.id) return { ok: true };
  const describe = (i: { id: string; name?: string }): string => (i.name ? `${i.name} (${i.id.slice(0, 19)})` : i.id.slice(0, 19));
  const diff = `key ${key} was snapshotted on image ${describe(snapshotImage)} but the container runs ${describe(containerImage)}`;
  if (policy === 'allow') return { ok: true };
  if (policy === 'warn') return { ok: true, message: `${diff}; restoring anyway (image policy warn)` };
  return { ok: false, message: `${diff}; refusing to restore (image policy refuse; set image-policy to warn or allow to restore anyway)` };
}
