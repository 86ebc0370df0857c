// Original file: proto/layerkeep.proto

import type { Long } from '@grpc/proto-loader';

export interface RestoreResult {
  'key'?: (string);
  'manifestDigest'?: (string);
  'files'?: (number | string | Long);
  'bytes'?: (number | string | Long);
}

export interface RestoreResult__Output {
  'key': (string);
  'manifestDigest': (string);
  'files': (number);
  'bytes': (number);
}
