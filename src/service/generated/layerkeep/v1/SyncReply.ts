// Original file: proto/layerkeep.proto


export interface SyncReply {
  'key'?: (string);
  'containerId'?: (string);
  'changed'?: (boolean);
  'manifestDigest'?: (string);
  'frozenMs'?: (number | string);
  'durable'?: (boolean);
}

export interface SyncReply__Output {
  'key': (string);
  'containerId': (string);
  'changed': (boolean);
  'manifestDigest': (string);
  'frozenMs': (number);
  'durable': (boolean);
}
