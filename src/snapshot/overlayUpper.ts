// Reading side of the overlay <-> OCI translation: what an overlayfs upper dir entry means
// in an OCI image layer. (The writing side, OCI -> upper dir or -> live tree, is whiteout.ts.)
// Overlay: https://docs.kernel.org/filesystems/overlayfs.html
// OCI:     https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts

/** Overlay-private xattr namespaces: trusted.* for the kernel mount, user.* for rootless overlay. */
export const OVERLAY_XATTR_PREFIXES = ['trusted.overlay.', 'user.overlay.'];

/** Features whose meaning cannot be expressed in an OCI layer: refuse rather than write a wrong one. */
const UNSUPPORTED = ['redirect', 'metacopy'];

export function isOverlayXattr(name: string): boolean {
  return OVERLAY_XATTR_PREFIXES.some((p) => name.startsWith(p));
}

/** A char device 0/0 in an upper dir is a whiteout: the lower entry of that name is deleted. */
export function isWhiteoutDevice(mode: number, major: number, minor: number): boolean {
  return (mode & 0o170000) === 0o020000 && major === 0 && minor === 0;
}

/** True when the directory hides everything below it in lower layers (opaque). */
export function isOpaqueDir(xattrs: Map<string, Buffer>): boolean {
  for (const p of OVERLAY_XATTR_PREFIXES) {
    const v = xattrs.get(`${p}opaque`);
    if (v && v.toString() === 'y') return true;
  }
  return false;
}

/** Throws, naming the file, if it relies on an overlay feature an OCI layer cannot represent. */
export function checkSupportedOverlayXattrs(relPath: string, xattrs: Map<string, Buffer>): void {
  for (const p of OVERLAY_XATTR_PREFIXES) {
    for (const f of UNSUPPORTED) {
      if (xattrs.has(`${p}${f}`)) {
        throw new Error(
          `${relPath}: the upper dir uses overlayfs ${f} (xattr ${p}${f}); layerkeep cannot express it in an OCI layer — ` +
            `mount the overlay with ${f === 'redirect' ? 'redirect_dir=off' : 'metacopy=off'}`,
        );
      }
    }
  }
}

/** The xattrs that belong in the layer: everything except overlay-private ones. */
export function layerXattrs(xattrs: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of xattrs) if (!isOverlayXattr(k)) out.set(k, v);
  return out;
}
