// File names are bytes on Linux; JS strings are UTF-16. layerkeep keeps a name as a string in
// which every byte that is not part of valid UTF-8 stands as a lone surrogate U+DC80..U+DCFF
// (the byte plus 0xDC00, Python's "surrogateescape"): valid UTF-8 never decodes to a surrogate,
// so the mapping is one-to-one and any name survives the trip. src/snapshot/fsName.ts is the
// JS side of the same mapping.
#ifndef LAYERKEEP_FSNAME_H
#define LAYERKEEP_FSNAME_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Reads a JS string as the bytes of a file name or path, malloc'd and NUL-terminated; *len gets
// the byte count without the NUL. NULL with a TypeError pending if `value` is not a string or
// on allocation failure (with `errno` ENOMEM).
char *lk_fs_bytes(napi_env env, napi_value value, size_t *len);

// Bytes -> UTF-16 code units under the mapping above; `out` needs room for `len` units.
// Returns the unit count.
size_t lk_fs_utf16(const unsigned char *s, size_t len, char16_t *out);

// Strict UTF-8 check (no overlongs, surrogates or code points past U+10FFFF).
bool lk_valid_utf8(const unsigned char *s, size_t len);

#endif
