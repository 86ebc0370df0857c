# Built with `node-gyp rebuild --directory src/native`; see index.ts for how it is found.
{
  "targets": [
    {
      "target_name": "layerkeep_native",
      "sources": ["layerkeep_native.c", "napi_util.c", "syscalls.c", "scandir.c", "memory.c", "hash.c", "batchfiles.c", "chunker.c", "bytes_job.c", "fsname.c"],
      # Node-API 8 is supported by every Node release from 12.22 on, so the same
      # binary loads on Node 20 and 24.
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE", "_FILE_OFFSET_BITS=64"],
      "cflags_c": ["-std=gnu11", "-O2", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"],
    }
  ]
}
