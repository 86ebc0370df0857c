// Original file: proto/layerkeep.proto

import type { Long } from '@grpc/proto-loader';

export interface CaptureStopReply {
  'action'?: (string);
  'key'?: (string);
  'captureId'?: (string);
  'entries'?: (number | string | Long);
  'message'?: (string);
}

export interface CaptureStopReply__Output {
  'action': (string);
  'key': (string);
  'captureId': (string);
  'entries': (number);
  'message': (string);
}
