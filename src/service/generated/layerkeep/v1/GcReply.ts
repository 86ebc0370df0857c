// Original file: proto/layerkeep.proto

import type { Long } from '@grpc/proto-loader';

export interface GcReply {
  'deleted'?: (string)[];
  'bytesFreed'?: (number | string | Long);
  'summary'?: (string);
}

export interface GcReply__Output {
  'deleted': (string)[];
  'bytesFreed': (number);
  'summary': (string);
}
