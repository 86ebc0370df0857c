// Original file: proto/layerkeep.proto

import type { SnapshotInfo as _layerkeep_v1_SnapshotInfo, SnapshotInfo__Output as _layerkeep_v1_SnapshotInfo__Output } from '../../layerkeep/v1/SnapshotInfo.js';

export interface ListSnapshotsReply {
  'snapshots'?: (_layerkeep_v1_SnapshotInfo)[];
}

export interface ListSnapshotsReply__Output {
  'snapshots': (_layerkeep_v1_SnapshotInfo__Output)[];
}
