// Original file: proto/layerkeep.proto

import type { RestoreResult as _layerkeep_v1_RestoreResult, RestoreResult__Output as _layerkeep_v1_RestoreResult__Output } from '../../layerkeep/v1/RestoreResult.js';
import type { Long } from '@grpc/proto-loader';

export interface RestoreProgress {
  'phase'?: (string);
  'done'?: (number | string | Long);
  'total'?: (number | string | Long);
  'result'?: (_layerkeep_v1_RestoreResult | null);
}

export interface RestoreProgress__Output {
  'phase': (string);
  'done': (number);
  'total': (number);
  'result': (_layerkeep_v1_RestoreResult__Output | null);
}
