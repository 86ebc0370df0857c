// mountinfo parsing: an overlay's options are split before their values are decoded, so an
// escaped separator inside a path can never make up an option of its own.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { overlayOption, overlayUpperDir, parseMountinfo } from '../../src/runtime/mountinfo.js';

const line = (opts: string): string => `36 25 0:32 / /m rw,relatime - overlay overlay ${opts}\n`;

describe('mountinfo overlay options', () => {
  it('keeps an escaped ",upperdir=" inside a lowerdir part of the lowerdir', () => {
    // What the kernel shows for lowerdir=/l,upperdir=/etc (a directory named so) and the real upper /u.
    const text = line('rw,lowerdir=/l\\054upperdir\\075/etc,upperdir=/u,workdir=/w');
    const opts = parseMountinfo(text)[0].superOptions;
    assert.equal(overlayOption(opts, 'upperdir'), '/u');
    assert.equal(overlayOption(opts, 'lowerdir'), '/l,upperdir=/etc');
    assert.equal(overlayUpperDir('/m', text), '/u');
  });

  it('finds no upper dir when the only "upperdir=" is inside another value', () => {
    const text = line('ro,lowerdir=/a\\054upperdir=/etc:/b');
    assert.equal(overlayOption(parseMountinfo(text)[0].superOptions, 'upperdir'), undefined);
    assert.throws(() => overlayUpperDir('/m', text), /no upperdir= option/);
  });

  it('decodes octal escapes and escaped commas in the value it returns', () => {
    const opts = parseMountinfo(line('rw,lowerdir=/l,upperdir=/a\\040b/c\\,d/e\\134f,workdir=/w'))[0].superOptions;
    assert.equal(overlayOption(opts, 'upperdir'), '/a b/c,d/e\\f');
    assert.equal(overlayOption(opts, 'workdir'), '/w');
    assert.equal(overlayOption(opts, 'rw'), undefined);
  });
});
