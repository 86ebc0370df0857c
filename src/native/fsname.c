// The byte <-> string mapping of file names; see fsname.h.
#include "fsname.h"

#include <errno.h>
#include <stdlib.h>
#include <uchar.h>

// Length of the valid UTF-8 sequence at s[0..len), or 0 if it is not one.
static size_t utf8_sequence(const unsigned char *s, size_t len) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1f; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07; }
  else return 0;
  if (n > len) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;  // overlong, too large
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;  // surrogates are not characters
  return n;
}

bool lk_valid_utf8(const unsigned char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    size_t n = utf8_sequence(s + i, len - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t lk_fs_utf16(const unsigned char *s, size_t len, char16_t *out) {
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    size_t n = utf8_sequence(s + i, len - i);
    if (n == 0) {
      out[o++] = (char16_t)(0xdc00 + s[i]);  // a stray byte (always >= 0x80)
      i++;
      continue;
    }
    uint32_t cp;
    if (n == 1) cp = s[i];
    else if (n == 2) cp = ((s[i] & 0x1fu) << 6) | (s[i + 1] & 0x3fu);
    else if (n == 3) cp = ((s[i] & 0x0fu) << 12) | ((s[i + 1] & 0x3fu) << 6) | (s[i + 2] & 0x3fu);
    else cp = ((s[i] & 0x07u) << 18) | ((s[i + 1] & 0x3fu) << 12) | ((s[i + 2] & 0x3fu) << 6) | (s[i + 3] & 0x3fu);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out[o++] = (char16_t)(0xd800 + (cp >> 10));
      out[o++] = (char16_t)(0xdc00 + (cp & 0x3ff));
    } else {
      out[o++] = (char16_t)cp;
    }
    i += n;
  }
  return o;
}

char *lk_fs_bytes(napi_env env, napi_value value, size_t *len) {
  size_t units = 0;
  if (napi_get_value_string_utf16(env, value, NULL, 0, &units) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return NULL;
  }
  char16_t *u = malloc((units + 1) * sizeof(char16_t));
  char *out = malloc(3 * units + 1);  // no unit takes more than 3 bytes (a pair takes 4 for 2)
  if (u == NULL || out == NULL) {
    free(u);
    free(out);
    errno = ENOMEM;
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf16(env, value, u, units + 1, &units);
  size_t o = 0;
  for (size_t i = 0; i < units; i++) {
    uint32_t c = u[i];
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < units && u[i + 1] >= 0xdc00 && u[i + 1] <= 0xdfff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (u[i + 1] - 0xdc00u);
      i++;
    } else if (c >= 0xdc80 && c <= 0xdcff) {
      out[o++] = (char)(c - 0xdc00);  // an escaped byte
      continue;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      c = 0xfffd;  // any other lone surrogate: what V8 would write
    }
    if (c < 0x80) out[o++] = (char)c;
    else if (c < 0x800) { out[o++] = (char)(0xc0 | (c >> 6)); out[o++] = (char)(0x80 | (c & 0x3f)); }
    else if (c < 0x10000) {
      out[o++] = (char)(0xe0 | (c >> 12)); out[o++] = (char)(0x80 | ((c >> 6) & 0x3f)); out[o++] = (char)(0x80 | (c & 0x3f));
    } else {
      out[o++] = (char)(0xf0 | (c >> 18)); out[o++] = (char)(0x80 | ((c >> 12) & 0x3f));
      out[o++] = (char)(0x80 | ((c >> 6) & 0x3f)); out[o++] = (char)(0x80 | (c & 0x3f));
    }
  }
  free(u);
  out[o] = '\0';
  *len = o;
  return out;
}
