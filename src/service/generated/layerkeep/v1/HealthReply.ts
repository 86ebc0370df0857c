// Original file: proto/layerkeep.proto

import type { Long } from '@grpc/proto-loader';

export interface HealthReply {
  'status'?: (string);
  'version'?: (string);
  'host'?: (string);
  'store'?: (string);
  'stateDir'?: (string);
  'uptimeMs'?: (number | string | Long);
  'pendingUploads'?: (number);
  'pendingCaptures'?: (number);
  'dockerConnected'?: (boolean);
}

export interface HealthReply__Output {
  'status': (string);
  'version': (string);
  'host': (string);
  'store': (string);
  'stateDir': (string);
  'uptimeMs': (number);
  'pendingUploads': (number);
  'pendingCaptures': (number);
  'dockerConnected': (boolean);
}
