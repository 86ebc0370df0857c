// Original file: proto/layerkeep.proto

import type { Long } from '@grpc/proto-loader';

export interface SnapshotReply {
  'key'?: (string);
  'changed'?: (boolean);
  'manifestDigest'?: (string);
  'blobDigest'?: (string);
  'diffId'?: (string);
  'blobSize'?: (number | string | Long);
  'uncompressedSize'?: (number | string | Long);
  'files'?: (number | string | Long);
  'warnings'?: (string)[];
}

export interface SnapshotReply__Output {
  'key': (string);
  'changed': (boolean);
  'manifestDigest': (string);
  'blobDigest': (string);
  'diffId': (string);
  'blobSize': (number);
  'uncompressedSize': (number);
  'files': (number);
  'warnings': (string)[];
}
