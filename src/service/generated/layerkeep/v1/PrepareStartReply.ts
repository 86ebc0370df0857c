// Original file: proto/layerkeep.proto

import type { Long } from '@grpc/proto-loader';

export interface PrepareStartReply {
  'action'?: (string);
  'key'?: (string);
  'manifestDigest'?: (string);
  'files'?: (number | string | Long);
  'message'?: (string);
}

export interface PrepareStartReply__Output {
  'action': (string);
  'key': (string);
  'manifestDigest': (string);
  'files': (number);
  'message': (string);
}
