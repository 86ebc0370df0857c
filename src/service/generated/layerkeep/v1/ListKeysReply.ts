// Original file: proto/layerkeep.proto

import type { KeyState as _layerkeep_v1_KeyState, KeyState__Output as _layerkeep_v1_KeyState__Output } from '../../layerkeep/v1/KeyState.js';

export interface ListKeysReply {
  'keys'?: (_layerkeep_v1_KeyState)[];
}

export interface ListKeysReply__Output {
  'keys': (_layerkeep_v1_KeyState__Output)[];
}
