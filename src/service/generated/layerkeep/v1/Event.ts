// Original file: proto/layerkeep.proto

import type { Long } from '@grpc/proto-loader';

export interface Event {
  'time'?: (string);
  'type'?: (string);
  'key'?: (string);
  'containerId'?: (string);
  'manifestDigest'?: (string);
  'message'?: (string);
  'done'?: (number | string | Long);
  'total'?: (number | string | Long);
}

export interface Event__Output {
  'time': (string);
  'type': (string);
  'key': (string);
  'containerId': (string);
  'manifestDigest': (string);
  'message': (string);
  'done': (number);
  'total': (number);
}
